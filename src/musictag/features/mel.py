"""Log-mel spectrogram front end in torch, numerically equal to librosa's.

``LogMel(config)(waveform)`` matches::

    S = librosa.feature.melspectrogram(y=waveform, sr=..., n_fft=..., hop_length=...,
                                       n_mels=..., fmin=..., fmax=..., htk=..., power=...)

followed by the configured compression, with frames on the second-to-last axis
(``(..., n_frames, n_mels)``, the layout musicnn's patches use).
"""

from __future__ import annotations

import numpy as np
import torch

from musictag.features.config import MUSICNN, FrontendConfig
from musictag.features.filterbank import mel_filterbank

_MEL_GROUPS = 8  # mel filters per banded product: n_mels / 8 (fewer groups waste work on zeros)


class LogMel(torch.nn.Module):
    """Waveform ``(..., samples)`` to compressed mel spectrogram ``(..., frames, n_mels)``."""

    def __init__(self, config: FrontendConfig = MUSICNN):
        super().__init__()
        self.config = config
        win = config.win_length or config.n_fft
        window = torch.hann_window(win, periodic=True, dtype=torch.float64)
        pad = (config.n_fft - win) // 2  # librosa centres a short window inside n_fft
        window = torch.nn.functional.pad(window, (pad, config.n_fft - win - pad)).float()
        self.register_buffer("window", window, persistent=False)
        filters = torch.from_numpy(mel_filterbank(config)).T.contiguous()  # (n_freqs, n_mels)
        self.register_buffer("filters", filters, persistent=False)
        # The power product runs on (re^2, im^2 interleaved) @ (filters with each row twice), band by
        # band: each group of mel filters only touches the FFT bins under it (2-4x less work).
        interleaved = filters.repeat_interleave(2, dim=0)
        self._bands = []
        for group, columns in enumerate(torch.arange(config.n_mels).tensor_split(_MEL_GROUPS)):
            rows = torch.nonzero(interleaved[:, columns].any(dim=1)).flatten()
            low, high = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 1)
            self._bands.append((low, high))
            self.register_buffer(f"band{group}", interleaved[low:high, columns].contiguous(), persistent=False)

    def power_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """Mel power (before compression), frames from the waveform's start (``center`` honoured)."""
        cfg = self.config
        if cfg.center:  # zero padding, as librosa >= 0.10
            waveform = torch.nn.functional.pad(waveform, (cfg.n_fft // 2, cfg.n_fft // 2))
        return self.frames_to_mel(waveform)

    def frames_to_mel(self, padded: torch.Tensor) -> torch.Tensor:
        """Mel power of every full window in an already padded waveform."""
        cfg = self.config
        if padded.shape[-1] < cfg.n_fft:
            return padded.new_zeros(padded.shape[:-1] + (0, cfg.n_mels))
        frames = padded.unfold(-1, cfg.n_fft, cfg.hop_length)  # (..., n_frames, n_fft)
        spectrum = torch.fft.rfft(frames * self.window, dim=-1)
        if cfg.power == 2.0:
            # |X|^2 @ F as (re^2, im^2 interleaved) @ (F with each row twice): one contiguous square
            # and one product instead of two strided squares, a sum and a product
            squares = torch.view_as_real(spectrum).square_().flatten(-2)
            parts = [squares[..., low:high] @ getattr(self, f"band{k}") for k, (low, high) in enumerate(self._bands)]
            return torch.cat(parts, dim=-1)
        magnitude = (spectrum.real.square() + spectrum.imag.square()).pow(cfg.power / 2.0)
        return magnitude @ self.filters

    def compress(self, mel: torch.Tensor) -> torch.Tensor:
        """Apply the configured compression (and the float16 quirk) to mel power."""
        cfg = self.config
        if cfg.float16_quirk:  # musicnn rounds the mel power to float16, then takes the log in float32
            mel = mel.half().float()
        if cfg.compression == "log10_1p":
            return torch.log10(mel * cfg.multiplier + 1)
        if cfg.compression == "db":
            return 10.0 * torch.log10(torch.clamp(mel, min=cfg.amin))
        if cfg.compression == "log":
            return torch.log(mel + cfg.eps)
        return mel

    def frames_of(self, padded: np.ndarray) -> torch.Tensor:
        """Compressed mel frames of every full window in already padded samples (block-wise framing:
        :func:`musictag.features.blockwise.stream_logmel`)."""
        return self.compress(self.frames_to_mel(torch.from_numpy(padded)))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Compressed log-mel frames ``(..., n_frames, n_mels)`` of a waveform."""
        return self.compress(self.power_mel(waveform))

    def n_frames(self, n_samples: int) -> int:
        """Number of frames for a waveform of ``n_samples``."""
        cfg = self.config
        if cfg.center:
            return 1 + n_samples // cfg.hop_length
        return 0 if n_samples < cfg.n_fft else 1 + (n_samples - cfg.n_fft) // cfg.hop_length
