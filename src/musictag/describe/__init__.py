"""Descriptors beside the tags: the global key and the tempo of a recording (``tag --describe key,bpm``).

:func:`describe_file` reads a file as a stream of mono blocks at 8 kHz (a second decode beside the
tagger's, about 12 ms for a 30-s FLAC) into a :class:`Describer`, so a long file is never held whole in
memory; any backend's results can be described (:func:`described`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from musictag.audio.arrays import AudioArray
from musictag.describe import key as _key
from musictag.describe import tempo as _tempo
from musictag.errors import ParameterError

if TYPE_CHECKING:
    from musictag.inference.results import FileError, TagResult

#: The rate key and tempo are computed at: above twice the key's 3.5 kHz band.
ANALYSIS_RATE = _key.RATE

#: What ``--describe`` takes.
DESCRIPTORS = ("key", "bpm")


def parse_descriptors(text: str | None) -> tuple[str, ...]:
    """``"key,bpm"`` -> ``("key", "bpm")``; an unknown name is a :class:`~musictag.errors.ParameterError`."""
    names = tuple(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))
    unknown = [name for name in names if name not in DESCRIPTORS]
    if unknown:
        raise ParameterError(f"--describe takes {', '.join(DESCRIPTORS)}; got {', '.join(unknown)}")
    return names


class _Framer:
    """Frames of ``size`` every ``hop`` samples from blocks of any length."""

    def __init__(self, size: int, hop: int):
        self.size, self.hop = size, hop
        self.buffer = np.zeros(0, np.float32)

    def push(self, block: np.ndarray) -> np.ndarray:
        self.buffer = np.concatenate([self.buffer, block.astype(np.float32, copy=False)])
        frames = _key.frames_of(self.buffer, self.size, self.hop)
        self.buffer = self.buffer[len(frames) * self.hop :].copy()
        return np.array(frames)


class Describer:
    """Key and tempo of one stream of mono blocks at :data:`ANALYSIS_RATE`: :meth:`feed` each block, then
    :meth:`result`."""

    def __init__(self, names: tuple[str, ...]):
        self.names, self.rate, self.samples = names, ANALYSIS_RATE, 0
        self._chroma = np.zeros(12)
        self._key_frames = _Framer(_key.FRAME, _key.HOP) if "key" in names else None
        self._onset_frames = _Framer(_tempo.FRAME, _tempo.HOP) if "bpm" in names else None
        self._flatness: list[np.ndarray] = []
        self._onsets: list[np.ndarray] = []
        self._last_level: np.ndarray | None = None

    def feed(self, block: np.ndarray) -> None:
        """Take the next block of samples."""
        self.samples += len(block)
        if self._key_frames is not None:
            chroma, flatness = _key.frame_profiles(self._key_frames.push(block))
            self._chroma += chroma
            self._flatness.append(flatness)
        if self._onset_frames is not None:
            frames = self._onset_frames.push(block)
            if len(frames):
                onsets, self._last_level = _tempo.onset_strength(frames, self._last_level)
                self._onsets.append(onsets)

    def result(self) -> dict[str, dict]:
        """``{"key": {"value": "A minor" | None, "confidence": c}, "bpm": {"value": 120.1 | None, ...}}``."""
        seconds = self.samples / self.rate
        out = {}
        if "key" in self.names:
            flatness = np.concatenate(self._flatness) if self._flatness else np.zeros(0)
            found = _key.key_of_profile(self._chroma, flatness=flatness, seconds=seconds)
            out["key"] = {"value": str(found) if found.tonic else None, "confidence": round(found.confidence, 3)}
        if "bpm" in self.names:
            envelope = np.concatenate(self._onsets) if self._onsets else np.zeros(0)
            found = _tempo.tempo_of_envelope(envelope, self.rate / _tempo.HOP, seconds=seconds)
            out["bpm"] = {"value": round(found.bpm, 1) if found.bpm else None, "confidence": round(found.confidence, 3)}
        return out


def describe_file(source: str | os.PathLike | AudioArray, names: tuple[str, ...]) -> dict[str, dict]:
    """Key and/or tempo (``names``) of a file or an :class:`~musictag.audio.arrays.AudioArray`, read as a
    stream: see :meth:`Describer.result` for the form."""
    from musictag.audio.arrays import resampled
    from musictag.audio.stream import AudioStream

    describer = Describer(names)
    blocks = (
        [resampled(source, ANALYSIS_RATE)] if isinstance(source, AudioArray) else AudioStream(source, ANALYSIS_RATE)
    )
    for block in blocks:
        describer.feed(block)
    return describer.result()


def described(results: Iterable[TagResult | FileError], names: tuple[str, ...]) -> Iterator[TagResult | FileError]:
    """``results`` with each tagged file's descriptors (``TagResult.descriptors``); a file that cannot be
    described is a :class:`~musictag.inference.results.FileError` like one that cannot be tagged."""
    from musictag.errors import failure_line
    from musictag.inference.results import FileError, TagResult

    for result in results:
        if names and isinstance(result, TagResult):
            try:
                result.descriptors = describe_file(result.path, names)
            except Exception as exc:  # a broken file must not stop the batch
                result = FileError(result.path, failure_line(result.path, exc))
        yield result
