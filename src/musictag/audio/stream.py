"""Mono, resampled audio as a stream of blocks (bounded memory) or as one array."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
import soxr

from musictag.audio.decode import open_decoder
from musictag.errors import AudioError, ParameterError


@dataclass
class AudioStream:
    """Iterate over mono float32 blocks of ``path`` resampled to ``sample_rate``.

    Mono down-mix is the channel mean, and resampling is soxr's "HQ" quality with the
    output length fixed to ``ceil(n * sr_out / sr_in)``: the same as ``librosa.load``
    (librosa >= 0.10), so features computed from it match librosa's.

    After iteration, ``duration`` holds the decoded length in seconds and ``timings`` the
    seconds spent decoding and resampling.
    """

    path: str | os.PathLike
    sample_rate: int
    block_seconds: float = 60.0
    duration: float = field(init=False, default=0.0)
    timings: dict = field(init=False, default_factory=lambda: {"decode": 0.0, "resample": 0.0})

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ParameterError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.block_seconds <= 0:
            raise ParameterError(f"block_seconds must be positive, got {self.block_seconds}")

    def __iter__(self) -> Iterator[np.ndarray]:
        decoder = open_decoder(self.path)
        try:
            yield from self._resampled(decoder)
        except sf.LibsndfileError as exc:
            raise AudioError(f"{self.path}: corrupt audio data ({exc.error_string})") from None
        finally:
            decoder.close()

    def _resampled(self, decoder) -> Iterator[np.ndarray]:
        rate = decoder.info.sample_rate
        block_frames = max(1, int(self.block_seconds * rate))
        resample = rate != self.sample_rate
        resampler = None  # a stream for files of several blocks; a file of one block is resampled in one call
        n_in = n_out = 0
        pending: np.ndarray | None = None  # one block held back so the last can be flagged
        clock = time.perf_counter()
        for block in decoder.blocks(block_frames):
            mono = block.reshape(-1) if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
            n_in += len(mono)
            now = time.perf_counter()
            self.timings["decode"] += now - clock
            if pending is not None:
                if resample and resampler is None:
                    resampler = soxr.ResampleStream(rate, self.sample_rate, 1, dtype="float32", quality="HQ")
                out = resampler.resample_chunk(pending) if resample else pending
                n_out += len(out)
                self.timings["resample"] += time.perf_counter() - now
                if len(out):
                    yield out
            pending = np.ascontiguousarray(mono, dtype=np.float32)
            clock = time.perf_counter()
        if n_in == 0:
            raise AudioError(f"{self.path}: no audio samples")
        declared = decoder.info.frames
        slack = 0 if decoder.info.exact else max(rate // 2, declared // 50)  # MP3 headers estimate the length
        if declared and n_in < declared - slack:
            raise AudioError(
                f"{self.path}: truncated or corrupt: the header says {declared / rate:.2f} s, "
                f"only {n_in / rate:.2f} s could be decoded"
            )
        self.duration = n_in / rate
        now = time.perf_counter()
        if resampler is not None:
            last = resampler.resample_chunk(pending, last=True)
        else:  # same samples as the stream, 10 % faster
            last = soxr.resample(pending, rate, self.sample_rate, quality="HQ") if resample else pending
        self.timings["resample"] += time.perf_counter() - now
        target = math.ceil(n_in * self.sample_rate / rate)
        missing = target - n_out - len(last)
        if missing > 0:
            last = np.concatenate([last, np.zeros(missing, dtype=np.float32)])
        elif missing < 0:
            last = last[: len(last) + missing]
        if len(last):
            yield last


def load(path: str | os.PathLike, *, sample_rate: int) -> np.ndarray:
    """Decode a whole file to mono float32 at ``sample_rate`` (see :class:`AudioStream`)."""
    blocks = list(AudioStream(path, sample_rate))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
