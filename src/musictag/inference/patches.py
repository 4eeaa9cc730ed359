"""Cut a stream of spectrogram frames into fixed-length patches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from musictag.errors import ParameterError


def iter_patches(frames: Iterable[torch.Tensor], *, length: int, hop: int) -> Iterator[torch.Tensor]:
    """Yield patches ``(k, length, n_mels)`` from frame chunks ``(n, n_mels)``.

    Patches start every ``hop`` frames and only whole patches are kept (the tail is
    dropped, as in musicnn). A clip shorter than one patch is padded by repeating it,
    so every non-empty input gives at least one patch. Only the frames still needed
    for the next patch are held in memory.
    """
    if length <= 0 or hop <= 0:
        raise ParameterError(f"patch length and hop must be positive, got {length} and {hop}")
    buffer: torch.Tensor | None = None
    skip = 0  # frames still to drop before the next patch starts (hop may exceed length)
    emitted = False
    for chunk in frames:
        if skip:
            dropped = min(skip, len(chunk))
            chunk, skip = chunk[dropped:], skip - dropped
        buffer = chunk if buffer is None else torch.cat([buffer, chunk])
        if len(buffer) >= length:
            count = 1 + (len(buffer) - length) // hop
            yield buffer.unfold(0, length, hop)[:count].transpose(1, 2).contiguous()
            emitted = True
            next_start = count * hop
            skip = max(0, next_start - len(buffer))
            buffer = buffer[next_start:]
    if not emitted and buffer is not None and len(buffer):
        repeats = -(-length // len(buffer))
        yield buffer.repeat(repeats, 1)[:length].unsqueeze(0)
