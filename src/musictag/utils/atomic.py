"""Atomic file writes: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_names = itertools.count()


def _temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (unique per process and call), created with the
    permissions a plain ``open`` would give (``mkstemp`` makes files private to the owner)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{next(_names)}.tmp{path.suffix}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), str(tmp)
        except FileExistsError:  # left by a killed process that had the same id
            continue


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` only if the block succeeds.

    A crash or exception leaves any previous ``path`` untouched and no partial file.
    """
    fd, tmp = _temporary(Path(path))
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path for writers that need a file name (numpy, safetensors)."""
    fd, tmp = _temporary(Path(path))
    mode = os.fstat(fd).st_mode
    os.close(fd)
    try:
        yield Path(tmp)
        if os.stat(tmp).st_mode != mode:  # a writer that recreates the file (safetensors makes it 0600)
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
