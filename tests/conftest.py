"""Shared fixtures: synthesised audio, a tiny random model folder, the shared data folder."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musictag.features.config import MUSICNN
from musictag.models.config import ModelConfig
from musictag.models.model_folder import save_model_folder
from musictag.models.zoo import build_model

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TINY_MUSICNN = {"n_classes": 5, "timbral_filters": 6, "temporal_filters": 3, "midend_filters": 8, "backend_units": 16}


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Tests never touch the user's cache unless they ask for real weights."""
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("MUSICTAG_WEIGHTS", raising=False)


def tone(seconds: float, sr: int, freq: float = 440.0, channels: int = 1, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    mono = amp * np.sin(2 * np.pi * freq * t)
    if channels == 1:
        return mono.astype(np.float32)
    return np.stack([mono * (1 + 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)


def noise(seconds: float, sr: int, seed: int = 0, amp: float = 0.3) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def music_like(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Clicks, a sweep and noise bursts: broadband content that exercises every mel band."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    sweep = 0.2 * np.sin(2 * np.pi * (100 * t + 400 * t**2 / max(seconds, 1e-3)))
    clicks = np.zeros(n)
    clicks[:: sr // 4] = 0.8
    noise = 0.05 * rng.standard_normal(n) * (np.sin(2 * np.pi * 2 * t) > 0)
    return (sweep + clicks + noise).astype(np.float32)


@pytest.fixture
def write_audio(tmp_path):
    """write_audio(name, samples, sr) -> path of a file written with soundfile."""

    def write(name: str, samples: np.ndarray, sr: int, **kwargs) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, samples, sr, **kwargs)
        return path

    return write


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A model folder holding a small randomly initialised MusiCNN with musicnn's front end."""
    torch.manual_seed(0)
    model = build_model("musicnn", **TINY_MUSICNN).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, with some negative scales
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(-1.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    config = ModelConfig(
        name="tiny",
        architecture="musicnn",
        labels=[f"tag{i}" for i in range(5)],
        model=TINY_MUSICNN,
        frontend=MUSICNN.to_dict(),
    )
    return save_model_folder(tmp_path_factory.mktemp("models") / "tiny", config, model.state_dict())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pretrained_weights() -> Path:
    """The user cache with musicnn's converted weights, fetched from PyPI if needed."""
    from musictag.errors import WeightsNotFoundError
    from musictag.pretrained.store import cache_dir, ensure_weights

    saved = os.environ.get("MUSICTAG_CACHE")
    os.environ.pop("MUSICTAG_CACHE", None)
    try:
        for name in ("mtt-musicnn", "msd-musicnn", "mtt-vgg", "msd-vgg"):
            ensure_weights(name)
        return cache_dir()
    except WeightsNotFoundError as exc:
        pytest.skip(f"pretrained musicnn weights unavailable: {exc}")
    finally:
        if saved is not None:
            os.environ["MUSICTAG_CACHE"] = saved


def write_annotations(path, tags: list[str], rows: list[tuple[str, list[str], str]]) -> None:
    """annotations_final.csv as the archive ships it: tab-separated, every field quoted."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quotechar='"', quoting=csv.QUOTE_ALL)
        writer.writerow(["clip_id", *tags, "mp3_path"])
        for clip, present, mp3 in rows:
            writer.writerow([clip, *("1" if t in present else "0" for t in tags), mp3])


def wait_for_port(port: int, process, *, seconds: float, what: str) -> None:
    """Wait until something listens on 127.0.0.1:``port``; fail if ``process`` ends or time runs out."""
    import socket
    import time

    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not start")
        time.sleep(0.2)


def run_main(capsys, *argv) -> tuple[int, str, str]:
    """A command run in this process through ``main()``: (exit code, stdout, stderr)."""
    from musictag.cli.main import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys, *argv) -> str:
    """The stderr of a command line that argparse refuses (exit code 2)."""
    from musictag.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def song(write_audio) -> Path:
    """A 4-s clip of broadband test audio (FLAC, 16 kHz)."""
    return write_audio("song.flac", music_like(4.0, 16000), 16000)
