"""The mel scale and librosa's triangular mel filters, in numpy (torch and numpy front ends share them)."""

from __future__ import annotations

import numpy as np

from musictag.features.config import FrontendConfig


def hz_to_mel(freq: np.ndarray, *, htk: bool = False) -> np.ndarray:
    """Hertz to mels (Slaney's auditory toolbox scale by default, as librosa)."""
    freq = np.asanyarray(freq, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + freq / 700.0)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    mels = freq / f_sp
    log_region = freq >= min_log_hz
    return np.where(log_region, min_log_hz / f_sp + np.log(np.maximum(freq, min_log_hz) / min_log_hz) / logstep, mels)


def mel_to_hz(mels: np.ndarray, *, htk: bool = False) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mels = np.asanyarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)


def mel_filterbank(config: FrontendConfig) -> np.ndarray:
    """Triangular mel filters, shape (n_mels, 1 + n_fft // 2), as ``librosa.filters.mel``."""
    f_max = config.f_max if config.f_max is not None else config.sample_rate / 2
    htk = config.mel_scale == "htk"
    fft_freqs = np.fft.rfftfreq(config.n_fft, d=1.0 / config.sample_rate)
    mel_edges = np.linspace(hz_to_mel(config.f_min, htk=htk), hz_to_mel(f_max, htk=htk), config.n_mels + 2)
    mel_freqs = mel_to_hz(mel_edges, htk=htk)
    fdiff = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
    if config.mel_norm == "slaney":
        weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights
