"""Log-mel frames computed block by block, identical to computing them on the whole signal."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

from musictag.features.mel import LogMel


def stream_logmel(frontend: LogMel, blocks: Iterable[np.ndarray]) -> Iterator[torch.Tensor]:
    """Yield compressed mel frames ``(n, n_mels)`` for a stream of mono sample blocks.

    Frame ``t`` covers samples ``[t * hop - pad, t * hop - pad + n_fft)`` with
    ``pad = n_fft // 2`` when centring (zeros outside the signal), so the concatenated
    output equals ``frontend(whole_signal)`` while only one block is held in memory.
    """
    cfg = frontend.config
    pad = cfg.n_fft // 2 if cfg.center else 0
    buffer = torch.zeros(pad)
    for block in blocks:
        buffer = torch.cat([buffer, torch.from_numpy(np.asarray(block, dtype=np.float32))])
        n = 0 if len(buffer) < cfg.n_fft else 1 + (len(buffer) - cfg.n_fft) // cfg.hop_length
        if n:
            yield frontend.compress(frontend.frames_to_mel(buffer[: (n - 1) * cfg.hop_length + cfg.n_fft]))
            buffer = buffer[n * cfg.hop_length :]
    if cfg.center:
        tail = frontend.frames_to_mel(torch.cat([buffer, torch.zeros(pad)]))
        if len(tail):
            yield frontend.compress(tail)
