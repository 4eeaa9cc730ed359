"""Patches and crops of spectrogram frames: the fixed-length views that inference and training feed models."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from musictag.errors import ParameterError


def iter_patches(frames: Iterable[np.ndarray], *, length: int, hop: int) -> Iterator[np.ndarray]:
    """Yield float32 patches ``(k, length, n_mels)`` from frame chunks ``(n, n_mels)`` (numpy; the torch
    tagger wraps them with ``torch.from_numpy``, the ONNX tagger uses them as they are).

    Patches start every ``hop`` frames and only whole patches are kept (the tail is
    dropped, as in musicnn). A clip shorter than one patch is padded by repeating it,
    so every non-empty input gives at least one patch. Only the frames still needed
    for the next patch are held in memory.
    """
    if length <= 0 or hop <= 0:
        raise ParameterError(f"patch length and hop must be positive, got {length} and {hop}")
    buffer: np.ndarray | None = None
    skip = 0  # frames still to drop before the next patch starts (hop may exceed length)
    emitted = False
    for chunk in frames:
        chunk = np.asarray(chunk, dtype=np.float32)
        if skip:
            dropped = min(skip, len(chunk))
            chunk, skip = chunk[dropped:], skip - dropped
        buffer = chunk if buffer is None else np.concatenate([buffer, chunk])
        if len(buffer) >= length:
            count = 1 + (len(buffer) - length) // hop
            windows = np.lib.stride_tricks.sliding_window_view(buffer, length, axis=0)[::hop][:count]
            yield windows.transpose(0, 2, 1).copy()  # a writable array of its own, not a view of the buffer
            emitted = True
            next_start = count * hop
            skip = max(0, next_start - len(buffer))
            buffer = buffer[next_start:]
    if not emitted and buffer is not None and len(buffer):
        yield np.resize(buffer, (length, buffer.shape[1]))[None]


def random_crop(features: np.ndarray, frames: int, pick: Callable[[int], int]) -> np.ndarray:
    """A ``frames``-long float32 crop of ``(frames, n_mels)`` features starting at ``pick(n_starts)``;
    a track shorter than the crop is repeated to fill it (as the tagger pads short clips)."""
    if len(features) < frames:
        return np.resize(np.asarray(features, dtype=np.float32), (frames, features.shape[1]))
    start = pick(len(features) - frames + 1)
    return np.asarray(features[start : start + frames], dtype=np.float32)
