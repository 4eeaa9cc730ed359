"""Audio already in memory: an array with its sample rate, read like a file (mono, resampled)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from musictag.errors import ParameterError


@dataclass(frozen=True)
class AudioArray:
    """Audio already in memory: ``(samples,)`` or ``(samples, channels)`` at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int
    name: str = "<array>"


def audio_source(audio: str | os.PathLike | np.ndarray, sample_rate: int | None) -> str | os.PathLike | AudioArray:
    """A path as it is, or an array with its sample rate (checked)."""
    if isinstance(audio, np.ndarray):
        if not sample_rate or sample_rate <= 0:
            raise ParameterError("audio given as an array needs its sample_rate (or pass a file path)")
        if audio.ndim not in (1, 2) or not audio.size:
            raise ParameterError(f"audio array must be (samples,) or (samples, channels), got shape {audio.shape}")
        return AudioArray(audio, int(sample_rate))
    if sample_rate is not None:
        raise ParameterError("sample_rate is for audio given as an array; a file says its own")
    return audio


def resampled(audio: AudioArray, rate: int) -> np.ndarray:
    """Mono float32 at ``rate`` (channel mean, soxr HQ, as files are read)."""
    import soxr

    samples = np.asarray(audio.samples, dtype=np.float32)
    mono = samples if samples.ndim == 1 else samples.mean(axis=1, dtype=np.float32)
    if audio.sample_rate == rate:
        return mono
    return soxr.resample(mono, audio.sample_rate, rate, quality="HQ").astype(np.float32)
