"""Log-mel frames computed block by block, identical to computing them on the whole signal.

One definition of the framing for both front ends: :class:`musictag.features.mel.LogMel` (torch) and
:class:`musictag.features.numpy_mel.NumpyLogMel` (numpy, for inference without torch) turn each run
of padded samples into frames with their ``frames_of`` method.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

import numpy as np

from musictag.features.config import FrontendConfig

Frames = TypeVar("Frames", covariant=True)


class FrontEnd(Protocol[Frames]):
    """A log-mel front end: its config, and the compressed frames of every full window of padded samples."""

    config: FrontendConfig

    def frames_of(self, padded: np.ndarray) -> Frames:
        """Compressed mel frames ``(n, n_mels)`` of every full window in ``padded``."""


def padded_runs(blocks: Iterable[np.ndarray], config: FrontendConfig) -> Iterator[np.ndarray]:
    """Runs of samples whose full windows are the signal's next frames, block by block.

    Frame ``t`` covers samples ``[t * hop - pad, t * hop - pad + n_fft)`` with ``pad = n_fft // 2``
    when centring (zeros outside the signal); only the samples the next frame needs are kept.
    """
    pad = config.n_fft // 2 if config.center else 0
    buffer = np.zeros(pad, np.float32)
    for block in blocks:
        buffer = np.concatenate([buffer, np.asarray(block, dtype=np.float32)])
        n = 0 if len(buffer) < config.n_fft else 1 + (len(buffer) - config.n_fft) // config.hop_length
        if n:
            yield buffer[: (n - 1) * config.hop_length + config.n_fft]
            buffer = buffer[n * config.hop_length :]
    if config.center:
        tail = np.concatenate([buffer, np.zeros(pad, np.float32)])
        if len(tail) >= config.n_fft:
            yield tail


def stream_logmel(frontend: FrontEnd[Frames], blocks: Iterable[np.ndarray]) -> Iterator[Frames]:
    """Yield compressed mel frames ``(n, n_mels)`` for a stream of mono sample blocks: the concatenated
    output equals the front end applied to the whole signal while only one block is held in memory."""
    for run in padded_runs(blocks, frontend.config):
        yield frontend.frames_of(run)
