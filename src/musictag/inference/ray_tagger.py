"""Tag on a Ray cluster (``musictag tag ... --ray [ADDRESS]``, extra ``musictag[ray]``).

Ray Data maps batches of paths over actors that each hold the model (one per worker, the model's
files shipped through Ray's object store, so workers need not see the driver's disk for it). The
workers read the audio files themselves (on a real cluster they must see the same paths, e.g. a
shared file system); results stream back to the driver in input order, and only the driver writes
(the database, the output file). Same interface as :class:`musictag.inference.tagger.Tagger`'s
``tag_many``, so the library job and the CLI use it unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from musictag.errors import MusictagError
from musictag.inference.base import ConfiguredTagger
from musictag.inference.results import EmbedResult, FileError, TagResult
from musictag.models.model_folder import read_config
from musictag.utils.net import is_loopback

#: Paths per batch handed to an actor: small, so that progress is smooth and work spreads evenly.
BATCH_FILES = 4


def connect(address: str | None, *, cpus: int | None = None) -> None:
    """Join the cluster at ``address``, or start a local one (``address`` None) with ``cpus`` CPUs, bound
    to the loopback interface. A cluster started with token authentication (Ray's default) is joined
    with the token in ``$RAY_AUTH_TOKEN`` or ``~/.ray/auth_token``."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports leave this machine
    if address is None or is_loopback(address):
        # a cluster of this machine alone, on 127.0.0.1 (else Ray swaps in the machine's outward address)
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    token = os.environ.get("RAY_AUTH_TOKEN") or (Path.home() / ".ray" / "auth_token").is_file()
    if address is not None and token:
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    try:
        import ray
    except ImportError:
        raise MusictagError("--ray needs Ray: pip install 'musictag[ray]'") from None
    warnings.filterwarnings("ignore", module="ray")
    if ray.is_initialized():
        return
    try:
        if address:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        else:
            # "local": a new cluster of this process, even where another one runs on the machine
            ray.init(
                address="local", num_cpus=cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "this machine"
        raise MusictagError(f"cannot reach a Ray cluster at {where}: {exc}".splitlines()[0]) from None


class _ModelActor:
    """Holds one model on a worker; turns a batch of paths into flat result columns."""

    def __init__(self, files, settings: dict):
        """``files``: an object-store reference to ``{name: bytes}`` of the model folder."""
        import ray
        import torch

        from musictag.inference.tagger import Tagger

        torch.set_num_threads(1)  # one actor per CPU
        settings = dict(settings)
        self.embed = settings.pop("embed")
        self.per_patch = settings.pop("per_patch", False)  # embed_many: each patch's activations
        # the model is read into memory once: its copy on the worker's disk goes with the loading
        with tempfile.TemporaryDirectory(prefix="musictag-model-") as folder:
            for name, data in ray.get(files).items():
                (Path(folder) / name).write_bytes(data)
            self.tagger = Tagger(folder, **settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        out: dict[str, list] = {key: [] for key in _COLUMNS}
        paths = [str(p) for p in batch["path"]]
        if self.per_patch:
            results = self.tagger.embed_many(paths, layer=self.embed)
        else:
            results = self.tagger.tag_many(paths, embed=self.embed)
        for result in results:
            failed = isinstance(result, FileError)
            out["path"].append(result.path)
            out["error"].append(result.error if failed else "")
            out["duration"].append(0.0 if failed else result.duration)
            scores = getattr(result, "scores", None)
            out["scores"].append(b"" if scores is None else scores.astype(np.float32).tobytes())
            per_patch = None if failed else result.per_patch if self.per_patch else result.taggram
            out["taggram"].append(b"" if per_patch is None else per_patch.astype(np.float32).tobytes())
            embedding = None if failed else result.embedding
            out["embedding"].append(b"" if embedding is None else embedding.astype(np.float32).tobytes())
            out["warnings"].append("[]" if failed else json.dumps(result.warnings))
        return out


_COLUMNS = ("path", "error", "duration", "scores", "taggram", "embedding", "warnings")


class RayTagger(ConfiguredTagger):
    """Tag files on a Ray cluster with a model folder; results come back in input order."""

    def __init__(
        self, folder: str | os.PathLike, *, hop: float | None = None, batch_size: int = 4, actors: int | None = None
    ):
        import ray

        self.folder = Path(folder)
        self._set_geometry(read_config(folder), hop)
        self.settings = {"hop": hop, "batch_size": batch_size}
        self.actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._available: set[str] | None = None

    def tag_many(
        self, paths: Iterable[str | os.PathLike], *, embed: str | None = None, workers: int = 0
    ) -> Iterator[TagResult | FileError]:
        """As :meth:`musictag.inference.tagger.Tagger.tag_many`; ``workers`` is unused (``actors`` counts)."""
        if embed:
            self._check_layer(embed)
        n_labels = len(self.config.labels)
        seconds = self.patch_frames * self.frame_seconds
        for row in self._rows(paths, {"embed": embed}):
            if row["error"]:
                yield FileError(row["path"], row["error"])
                continue
            taggram = np.frombuffer(row["taggram"], np.float32).reshape(-1, n_labels)
            embedding = np.frombuffer(row["embedding"], np.float32) if row["embedding"] else None
            yield TagResult(
                row["path"],
                self.name,
                float(row["duration"]),
                self.labels,
                np.frombuffer(row["scores"], np.float32),
                taggram,
                self._starts(len(taggram)),
                seconds,
                json.loads(row["warnings"]),
                embedding,
            )

    def embed_many(
        self, paths: Iterable[str | os.PathLike], *, layer: str = "penultimate", workers: int = 0
    ) -> Iterator[EmbedResult | FileError]:
        """As :meth:`musictag.inference.tagger.Tagger.embed_many`; ``workers`` is unused."""
        self._check_layer(layer)
        for row in self._rows(paths, {"embed": layer, "per_patch": True}):
            if row["error"]:
                yield FileError(row["path"], row["error"])
                continue
            dims = len(np.frombuffer(row["embedding"], np.float32))
            per_patch = np.frombuffer(row["taggram"], np.float32).reshape(-1, dims)
            yield EmbedResult(
                row["path"],
                self.name,
                layer,
                float(row["duration"]),
                per_patch,
                self._starts(len(per_patch)),
                json.loads(row["warnings"]),
            )

    def _layers(self) -> set[str]:
        if self._available is None:
            from musictag.models.model_folder import load_model_folder

            module, _ = load_model_folder(self.folder)
            self._available = set(getattr(module, "embedding_dims", {}))
        return self._available

    def _starts(self, n_patches: int) -> np.ndarray:
        return np.arange(n_patches) * self.hop_frames * self.frame_seconds

    def _rows(self, paths: Iterable[str | os.PathLike], mode: dict) -> Iterator[dict]:
        """The actors' result rows for ``paths``, in input order."""
        import ray

        paths = [str(p) for p in paths]
        if not paths:
            return
        context = ray.data.DataContext.get_current()
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its plan and timing notes would break our bars
        context.execution_options.preserve_order = True  # results in input order, as the local taggers
        context.enable_progress_bars = False
        # the model's files go to the object store once; each actor is handed a reference to them
        files = ray.put({p.name: p.read_bytes() for p in self.folder.iterdir() if p.is_file()})
        blocks = -(-len(paths) // BATCH_FILES)  # a block per batch: work spreads over every actor
        dataset = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=blocks)
        rows = dataset.map_batches(
            _ModelActor,
            fn_constructor_args=(files, {**self.settings, **mode}),
            batch_size=BATCH_FILES,
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            num_cpus=1,
            batch_format="numpy",
        )
        yield from rows.iter_rows()
