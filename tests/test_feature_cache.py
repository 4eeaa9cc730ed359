"""The feature cache: equal to the front end, atomic, resumable, parallel, memory-mapped."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from musictag.audio.stream import load
from musictag.cli.main import main
from musictag.features.cache import FeatureCache
from musictag.features.config import MUSICNN
from musictag.features.mel import LogMel
from musictag.features.presets import FRONTENDS, frontend_from
from musictag.utils.hashing import content_hash

from conftest import music_like


@pytest.fixture
def clips(write_audio):
    return [write_audio(f"clips/c{i:02d}.flac", music_like(2.0 + i % 3, 22050, seed=i), 22050) for i in range(8)]


def test_cached_features_equal_the_front_end(tmp_path, clips):
    cache = FeatureCache(tmp_path / "cache", MUSICNN)
    report = cache.extract(clips, workers=2)
    assert report.computed == 8 and report.reused == 0 and not report.failed
    for clip in clips:
        stored = cache.load(clip)
        assert isinstance(stored, np.memmap) and stored.dtype == np.float16
        expected = LogMel(MUSICNN)(torch.from_numpy(load(clip, sample_rate=16000))).numpy()
        np.testing.assert_allclose(stored.astype(np.float32), expected, atol=4e-3)  # float16 storage
    assert set(report.timings) == {"decode", "resample", "logmel", "write"}
    again = cache.extract(clips, workers=2)
    assert again.computed == 0 and again.reused == 8


def test_key_is_content_and_config(tmp_path, clips):
    copy = tmp_path / "copy.flac"
    copy.write_bytes(clips[0].read_bytes())
    cache = FeatureCache(tmp_path / "cache", MUSICNN)
    assert cache.key(copy) == cache.key(clips[0]) == content_hash(clips[0])
    cache.extract([clips[0]])
    assert cache.extract([copy]).reused == 1  # same bytes, same features
    other = FeatureCache(tmp_path / "cache", FRONTENDS["shortchunk"])
    assert other.root != cache.root and other.extract([clips[0]]).computed == 1
    assert other.load(clips[0]).shape[1] == 128


def test_crops_and_short_tracks(tmp_path, clips):
    cache = FeatureCache(tmp_path / "cache", MUSICNN)
    cache.extract(clips[:2])
    rng = np.random.default_rng(0)
    full = cache.load(clips[1])  # 3 s: 188 frames
    crop = cache.crop(clips[1], 100, rng)
    assert crop.shape == (100, 96) and crop.dtype == np.float32
    starts = [i for i in range(len(full) - 99) if np.array_equal(full[i : i + 100].astype(np.float32), crop)]
    assert starts
    padded = cache.crop(clips[0], 400, rng)  # 2 s track: repeated to fill the crop
    np.testing.assert_array_equal(padded[: len(cache.load(clips[0]))], cache.load(clips[0]).astype(np.float32))


def test_failures_are_listed_and_the_rest_computed(tmp_path, clips, capsys):
    bad = tmp_path / "clips" / "broken.flac"
    bad.write_bytes(b"fLaC" + b"\x00" * 50)
    empty = tmp_path / "clips" / "zero.wav"
    empty.write_bytes(b"")
    cache = FeatureCache(tmp_path / "cache", MUSICNN)
    report = cache.extract([*clips, bad, empty], workers=2)
    assert report.computed == 8 and {os.path.basename(p) for p, _ in report.failed} == {"broken.flac", "zero.wav"}
    code = main(
        ["features", "extract", str(tmp_path / "clips"), "--cache", str(tmp_path / "c2"), "--workers", "2", "-q"]
    )
    out, err = capsys.readouterr()
    assert code == 1 and "8 computed" in out and "2 failed" in out and "broken.flac" in err


def test_killed_extraction_resumes_without_recomputing(tmp_path, write_audio):
    clips = [write_audio(f"many/c{i:03d}.flac", music_like(6.0, 22050, seed=i), 22050) for i in range(40)]
    cache_dir = tmp_path / "cache"
    cmd = [
        sys.executable,
        "-m",
        "musictag.cli.main",
        "features",
        "extract",
        str(tmp_path / "many"),
        "--cache",
        str(cache_dir),
        "--workers",
        "1",
        "-q",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = FeatureCache(cache_dir, MUSICNN)
    deadline = time.time() + 300  # generous: a loaded CI machine may take a minute just to import torch
    while time.time() < deadline and len(list(cache.root.glob("*/[!.]*.npy"))) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p: p.stat().st_mtime_ns for p in cache.root.glob("*/[!.]*.npy")}
    assert 5 <= len(done_before) < 40
    for path in done_before:  # every file present is whole
        assert np.load(path).shape[1] == 96
    report = cache.extract(clips, workers=2)
    assert report.reused == len(done_before) and report.computed == 40 - len(done_before)
    assert all(p.stat().st_mtime_ns == m for p, m in done_before.items())  # nothing recomputed


def test_frontend_from_names_files_and_json(tmp_path):
    assert frontend_from("vggish").n_mels == 64
    config = tmp_path / "fe.json"
    config.write_text('{"sample_rate": 22050, "n_mels": 40}')
    assert frontend_from(str(config)).sample_rate == 22050
    assert frontend_from('{"n_mels": 32}').n_mels == 32
    with pytest.raises(Exception, match="unknown front end"):
        frontend_from("nonsense")
