"""Key and tempo: known answers on signals built here, unknown where there is no answer, streaming."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musictag.describe import Describer, describe_file, parse_descriptors
from musictag.describe.key import PITCH_CLASSES, estimate_key
from musictag.describe.tempo import estimate_tempo
from musictag.errors import ParameterError

from conftest import noise, run_main, tone, usage_error

RATE = 22050
MAJOR, MINOR = (0, 4, 7), (0, 3, 7)


def _note(midi: int, seconds: float) -> np.ndarray:
    """A plucked tone with four harmonics."""
    t = np.arange(int(seconds * RATE)) / RATE
    f = 440.0 * 2 ** ((midi - 69) / 12)
    return sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 5)) * np.exp(-2.0 * t)


def cadence(tonic: int, mode: str, *, bars: int = 4, seconds: float = 1.0) -> np.ndarray:
    """i-iv-V-i (or I-IV-V-I) in ``tonic`` (0 = C), one chord per ``seconds``, with the bass."""
    third = MINOR if mode == "minor" else MAJOR
    chords = [(0, third), (5, third), (7, MAJOR), (0, third)] * bars
    out = []
    for degree, shape in chords:
        root = 48 + (tonic + degree) % 12
        out.append(sum(_note(root + 12 + step, seconds) for step in shape) + _note(root, seconds))
    audio = np.concatenate(out)
    return (0.2 * audio / np.abs(audio).max()).astype(np.float32)


def clicks(bpm: float, seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    """A drum-like pattern: accented beats, softer off-beat eighths, a little noise."""
    rng = np.random.default_rng(seed)
    out = 0.01 * rng.standard_normal(int(seconds * RATE))
    burst = rng.standard_normal(600) * np.exp(-np.arange(600) / 80)
    beat = 60.0 / bpm
    for i, start in enumerate(np.arange(0, seconds - 0.1, beat / 2)):
        at = int(start * RATE)
        out[at : at + 600] += burst * (1.0 if i % 2 == 0 else 0.4) * (1.5 if i % 8 == 0 else 1.0)
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


@pytest.mark.parametrize(("tonic", "mode"), [(9, "minor"), (2, "major"), (6, "minor"), (10, "major")])
def test_the_key_of_a_cadence_is_its_tonic_and_mode(tonic, mode):
    found = estimate_key(cadence(tonic, mode), RATE)
    assert (found.tonic, found.mode) == (PITCH_CLASSES[tonic], mode)
    assert 0 < found.confidence <= 1


@pytest.mark.parametrize("bpm", [72, 100, 128, 150])
def test_the_tempo_of_a_beat_is_found_within_two_percent(bpm):
    found = estimate_tempo(clicks(bpm), RATE)
    assert found.bpm == pytest.approx(bpm, rel=0.02)
    assert found.confidence > 0.1


def test_short_atonal_and_beatless_audio_is_unknown_not_a_guess():
    assert estimate_key(cadence(0, "major")[: 2 * RATE], RATE).tonic is None  # 2 s
    assert estimate_tempo(clicks(120)[: 3 * RATE], RATE).bpm is None  # 3 s
    assert estimate_key(noise(10, RATE), RATE).tonic is None
    assert estimate_key(clicks(120), RATE).tonic is None  # drums alone
    assert estimate_tempo(tone(10, RATE), RATE).bpm is None  # a held tone


def test_a_stream_in_blocks_of_any_size_describes_like_the_whole_signal():
    from musictag.audio.arrays import AudioArray, resampled
    from musictag.describe import ANALYSIS_RATE

    audio = cadence(4, "minor", bars=3, seconds=0.6) + clicks(110, seconds=7.2)
    whole = describe_file(AudioArray(audio, RATE), ("key", "bpm"))
    describer = Describer(("key", "bpm"))
    samples = resampled(AudioArray(audio, RATE), ANALYSIS_RATE)
    rng = np.random.default_rng(1)
    start = 0
    while start < len(samples):
        size = int(rng.integers(1, 9000))
        describer.feed(samples[start : start + size])
        start += size
    assert describer.result() == whole
    assert whole["key"]["value"] == "E minor"
    assert whole["bpm"]["value"] == pytest.approx(110, rel=0.02)


def test_descriptor_names_are_checked():
    assert parse_descriptors("bpm, key,bpm") == ("bpm", "key")
    with pytest.raises(ParameterError, match="--describe takes key, bpm; got tempo"):
        parse_descriptors("key,tempo")


def test_tag_describe_prints_key_and_tempo_in_every_format(capsys, write_audio, tiny_model_dir, tmp_path):
    clip = write_audio("cadence.flac", cadence(7, "major", bars=3) + clicks(120, seconds=12.0), RATE)
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"not audio")
    code, out, err = run_main(
        capsys, "tag", clip, broken, "--model", tiny_model_dir, "--describe", "key,bpm", "--format", "json", "-q"
    )
    assert code == 1 and "broken.flac" in err and err.count("\n") == 2  # the error line and the count
    record = next(r for r in json.loads(out) if "error" not in r)
    assert record["key"]["value"] == "G major"
    assert record["bpm"]["value"] == pytest.approx(120, rel=0.02)
    code, out, _ = run_main(capsys, "tag", clip, "--model", tiny_model_dir, "--describe", "bpm", "--format", "csv")
    header, first = out.splitlines()[:2]
    assert header.endswith(",bpm,bpm_confidence") and float(first.split(",")[-2]) == pytest.approx(120, rel=0.02)
    code, out, _ = run_main(capsys, "tag", clip, "--model", tiny_model_dir, "--describe", "key")
    assert "key G major (confidence" in out
    assert "got speed" in usage_error(capsys, "tag", clip, "--describe", "speed")
