"""Open a tagger: one place decides which backend runs a model (torch, onnxruntime or a Ray cluster).

The command line, the library job, the web server, explanations and concepts all call
:func:`open_tagger`; each gets an object with the :class:`~musictag.inference.base.TaggerBackend`
interface.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from musictag.errors import ParameterError

if TYPE_CHECKING:
    from musictag.inference.base import TaggerBackend
    from musictag.models.config import ModelConfig

Backend = Literal["torch", "onnx"]


def choose_backend(
    model: str | os.PathLike, backend: str | None = None, *, device: str = "cpu", ray: str | None = None
) -> Backend:
    """The backend that runs ``model``.

    onnxruntime for an exported ``.onnx`` file, and by default for the pretrained taggers on the CPU (the
    fastest path: their graphs are written from the weights once and cached) and for musicnn or VGG
    folders where torch is not installed; torch for other model folders, a GPU, a Ray cluster, or when
    ``backend`` says so. A combination that cannot work is a
    :class:`ParameterError`.
    """
    from musictag.pretrained.catalog import PRETRAINED

    exported = str(model).endswith(".onnx")
    if backend not in (None, "torch", "onnx"):
        raise ParameterError(f"unknown backend {backend!r}: use torch or onnx")
    if backend == "torch" and exported:
        raise ParameterError(f"{model}: an ONNX file runs with --backend onnx")
    if backend == "onnx" and not exported and not _writable_as_onnx(model):
        raise ParameterError(
            f"--backend onnx runs an exported model: 'musictag models export {model} --onnx FILE.onnx', then "
            "--model FILE.onnx"
        )
    if exported or backend == "onnx":
        return "onnx"
    # a musicnn or VGG folder runs without torch where torch is not installed
    on_onnx = str(model) in PRETRAINED or (not _torch_installed() and _writable_as_onnx(model))
    return "onnx" if backend is None and device == "cpu" and ray is None and on_onnx else "torch"


def _torch_installed() -> bool:
    """Whether torch can be imported (without importing it: that takes a second)."""
    import importlib.util
    import sys

    if "torch" in sys.modules:
        return sys.modules["torch"] is not None
    return importlib.util.find_spec("torch") is not None


def _writable_as_onnx(model: str | os.PathLike) -> bool:
    """A pretrained name, or a folder of a network :mod:`musictag.models.onnx_graph` writes without torch."""
    from musictag.models.model_folder import is_model_folder, read_config
    from musictag.models.onnx_graph import SUPPORTED
    from musictag.pretrained.catalog import PRETRAINED

    if str(model) in PRETRAINED:
        return True
    return is_model_folder(model) and read_config(model).architecture in SUPPORTED


def open_tagger(
    model: str | os.PathLike = "mtt-musicnn",
    *,
    backend: str | None = None,
    device: str = "cpu",
    weights: str | os.PathLike | None = None,
    hop: float | None = None,
    batch_size: int | None = None,
    ray: str | None = None,
    actors: int | None = None,
) -> TaggerBackend:
    """A tagger for ``model`` (a pretrained name, a model folder or an exported ``.onnx`` file).

    Parameters
    ----------
    model : str or path
        What to run.
    backend : {"torch", "onnx"}, optional
        Default: onnx for a ``.onnx`` file and for the pretrained taggers on the CPU (the fastest path),
        torch otherwise (see :func:`choose_backend`).
    device : str
        The torch device (``cpu``, ``cuda``, ``cuda:N``, ``mps``); onnxruntime runs on the CPU here.
    weights : path, optional
        Pretrained weights offline (see :mod:`musictag.pretrained.store`).
    hop : float, optional
        Seconds between patch starts (default: the model's own, else one patch).
    batch_size : int, optional
        Patches per forward pass (default: 16 on onnxruntime, where larger batches run faster; 4 on torch).
    ray : str, optional
        ``"local"`` (a cluster of this machine) or the address of a Ray cluster to run on.
    actors : int, optional
        With ``ray``: model actors (default: the cluster's CPUs).
    """
    chosen = choose_backend(model, backend, device=device, ray=ray)
    if ray is not None:
        from musictag.inference.ray_tagger import RayTagger, connect
        from musictag.pretrained.store import resolve_model

        if chosen == "onnx":
            raise ParameterError("--ray runs the torch backend; leave out --backend onnx")
        connect(None if ray == "local" else ray, cpus=actors)
        return RayTagger(resolve_model(model, weights=weights), hop=hop, batch_size=batch_size or 4, actors=actors)
    if chosen == "onnx":
        from musictag.inference.onnx_tagger import OnnxTagger

        if device != "cpu":
            raise ParameterError("--backend onnx runs on the CPU here: leave out --device")
        return OnnxTagger(onnx_file(model, weights=weights), hop=hop, batch_size=batch_size or 16)
    from musictag.inference.tagger import Tagger

    return Tagger(model, weights=weights, hop=hop, batch_size=batch_size or 4, device=device)


def onnx_file(model: str | os.PathLike, *, weights: str | os.PathLike | None = None) -> Path:
    """The ONNX file that runs ``model``: itself when exported, else its graph written from the weights
    (once, cached by their fingerprint; no torch)."""
    if str(model).endswith(".onnx"):
        return Path(model)
    from musictag.models.onnx_graph import cached_onnx
    from musictag.pretrained.store import resolve_model

    return cached_onnx(resolve_model(model, weights=weights))


def model_files(
    model: str | os.PathLike, *, backend: str | None = None, weights: str | os.PathLike | None = None
) -> tuple[Path, ModelConfig]:
    """Where the files that run ``model`` are (a folder, or an ONNX file) and its config, without loading
    the network: what a library records about a model before anything is tagged."""
    if choose_backend(model, backend) == "onnx":
        from musictag.inference.onnx_tagger import read_onnx_config

        path = onnx_file(model, weights=weights)
        return path, read_onnx_config(path)
    from musictag.models.model_folder import read_config
    from musictag.pretrained.store import resolve_model

    folder = resolve_model(model, weights=weights)
    return folder, read_config(folder)
