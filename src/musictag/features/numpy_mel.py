"""The log-mel front end and patch cutting in numpy alone, for inference without torch (``--backend onnx``).

The same computation as :class:`musictag.features.mel.LogMel` with :func:`~musictag.features.blockwise.stream_logmel`
and :func:`~musictag.features.patches.iter_patches` (centred frames, blocks streamed, patches
every ``hop`` frames, a clip shorter than one patch repeated to fill it); equal to them within
float32 rounding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

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
        self.window = np.pad(window, (pad, config.n_fft - win - pad)).astype(np.float32)
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
            mel = mel.astype(np.float16).astype(np.float32)
        if cfg.compression == "log10_1p":
            return np.log10(mel * np.float32(cfg.multiplier) + 1).astype(np.float32)
        if cfg.compression == "db":
            return (10.0 * np.log10(np.maximum(mel, cfg.amin))).astype(np.float32)
        if cfg.compression == "log":
            return np.log(mel + np.float32(cfg.eps)).astype(np.float32)
        return mel

    def stream(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Frames of the blocks' concatenation, computed block by block."""
        cfg = self.config
        pad = cfg.n_fft // 2 if cfg.center else 0
        buffer = np.zeros(pad, np.float32)
        for block in blocks:
            buffer = np.concatenate([buffer, np.asarray(block, dtype=np.float32)])
            n = 0 if len(buffer) < cfg.n_fft else 1 + (len(buffer) - cfg.n_fft) // cfg.hop_length
            if n:
                yield self.compress(self.frames_to_mel(buffer[: (n - 1) * cfg.hop_length + cfg.n_fft]))
                buffer = buffer[n * cfg.hop_length :]
        if cfg.center:
            tail = self.frames_to_mel(np.concatenate([buffer, np.zeros(pad, np.float32)]))
            if len(tail):
                yield self.compress(tail)


def patches(frames: Iterable[np.ndarray], *, length: int, hop: int) -> Iterator[np.ndarray]:
    """Patches ``(k, length, n_mels)`` from frame chunks, as :func:`musictag.features.patches.iter_patches`."""
    buffer: np.ndarray | None = None
    skip = 0
    emitted = False
    for chunk in frames:
        if skip:
            dropped = min(skip, len(chunk))
            chunk, skip = chunk[dropped:], skip - dropped
        buffer = chunk if buffer is None else np.concatenate([buffer, chunk])
        if len(buffer) >= length:
            count = 1 + (len(buffer) - length) // hop
            yield np.stack([buffer[i * hop : i * hop + length] for i in range(count)])
            emitted = True
            skip = max(0, count * hop - len(buffer))
            buffer = buffer[count * hop :]
    if not emitted and buffer is not None and len(buffer):
        yield np.resize(buffer, (length, buffer.shape[1]))[None]
