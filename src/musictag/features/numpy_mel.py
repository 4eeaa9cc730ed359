"""The log-mel front end and patch cutting in numpy alone, for inference without torch (``--backend onnx``).

The same computation as :class:`musictag.features.mel.LogMel` (the same filterbank,
:func:`musictag.features.filterbank.mel_filterbank`); the framing block by block and the patches are
shared with it (:func:`~musictag.features.blockwise.stream_logmel`,
:func:`~musictag.features.patches.iter_patches`). Equal to the torch front end within float32 rounding
(its FFT runs in float64, numpy's faster one here; a mel value that sits on a float16 rounding boundary
may round the other way).
"""

from __future__ import annotations

import numpy as np

from musictag.features.config import FrontendConfig
from musictag.features.filterbank import mel_filterbank


class NumpyLogMel:
    """Compressed log-mel frames ``(n, n_mels)`` from a stream of mono blocks."""

    def __init__(self, config: FrontendConfig):
        self.config = config
        win = config.win_length or config.n_fft
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
        pad = (config.n_fft - win) // 2
        # float64: numpy's float64 FFT ran twice as fast as its float32 one (4.3 against 10 ms a 30-s track)
        self.window = np.pad(window, (pad, config.n_fft - win - pad))
        self.filters = mel_filterbank(config).T.astype(np.float32)  # (n_freqs, n_mels)

    def frames_to_mel(self, padded: np.ndarray) -> np.ndarray:
        """Mel power of every full window of an already padded signal."""
        cfg = self.config
        if len(padded) < cfg.n_fft:
            return np.zeros((0, cfg.n_mels), np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(padded, cfg.n_fft)[:: cfg.hop_length]
        spectrum = np.fft.rfft(frames * self.window, axis=-1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        if cfg.power != 2.0:
            power = power ** (cfg.power / 2.0)
        return power @ self.filters

    def compress(self, mel: np.ndarray) -> np.ndarray:
        """The configured compression (and the float16 quirk) of mel power."""
        cfg = self.config
        if cfg.float16_quirk:
            mel = float16_rounded(mel)
        if cfg.compression == "log10_1p":  # numpy's log is vectorised, its log10 is not (0.45 against 2.2 ms)
            return np.log(mel * np.float32(cfg.multiplier) + 1) * np.float32(1 / np.log(10))  # float32 in, out
        if cfg.compression == "db":
            return (10.0 * np.log10(np.maximum(mel, cfg.amin))).astype(np.float32)
        if cfg.compression == "log":
            return np.log(mel + np.float32(cfg.eps)).astype(np.float32)
        return mel

    def frames_of(self, padded: np.ndarray) -> np.ndarray:
        """Compressed mel frames of every full window in already padded samples (block-wise framing:
        :func:`musictag.features.blockwise.stream_logmel`)."""
        return self.compress(self.frames_to_mel(padded))


def float16_rounded(values: np.ndarray) -> np.ndarray:
    """``values.astype(float16).astype(float32)`` for float32 ``values``, computed in float32 (numpy's
    float16 casts took 3.4 ms for a 30-s track's mel frames, this 0.5): round to nearest even at
    float16's precision, its subnormals below 2**-14, infinity from 65520 up, NaN kept."""
    values = np.asarray(values, dtype=np.float32)
    bits = values.view(np.uint32)
    odd = (bits >> np.uint32(13)) & np.uint32(1)  # ties go to the even neighbour
    normal = ((bits + np.uint32(0xFFF) + odd) & np.uint32(0xFFFFE000)).view(np.float32)
    subnormal = np.rint(values * np.float32(2**24)) * np.float32(2**-24)
    size = np.abs(values)
    rounded = np.where(size < np.float32(2**-14), subnormal, normal)
    rounded = np.where(size < np.float32(65520), rounded, np.copysign(np.float32(np.inf), values))
    nan = np.isnan(values)
    if nan.any():
        rounded[nan] = np.nan
    return rounded
