"""Atomic file writes: write to a temporary file beside the target, then rename.

Only a regular file (or a place where none exists yet) is replaced that way. A symbolic link is
followed, so its target is replaced and the link stays; a device, pipe or socket (``/dev/null``, a
fifo a reader waits on, ``/dev/stdout``) is written to directly, since renaming over it would
replace the special file itself.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_names = itertools.count()


def is_special(path: str | os.PathLike) -> bool:
    """Whether ``path`` (links followed) exists and is neither a regular file nor a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _target(path: str | os.PathLike) -> Path:
    """Where the data goes: ``path`` with its symbolic links resolved (a dangling link's target too)."""
    return Path(os.path.realpath(path))


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


def probe_writable(folder: str | os.PathLike) -> None:
    """Raise ``OSError`` unless a file can be created in ``folder`` (tried, then removed): permission
    bits alone say nothing of read-only mounts or ``/proc``."""
    fd, tmp = _temporary(Path(folder) / "probe")
    os.close(fd)
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` only if the block succeeds.

    A crash or exception leaves any previous ``path`` untouched and no partial file. A special file
    (device, pipe) is opened and written directly; a symbolic link's target is the file replaced.
    """
    if is_special(path):
        with open(path, mode, **kwargs) as handle:
            yield handle
        return
    target = _target(path)
    fd, tmp = _temporary(target)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path for writers that need a file name (numpy, safetensors).

    For a special file ``path``, what was written there is then copied into it.
    """
    special = is_special(path)
    target = _target(path)
    fd, tmp = _temporary(Path(tempfile.gettempdir()) / "musictag-output" if special else target)
    mode = os.fstat(fd).st_mode
    os.close(fd)
    try:
        yield Path(tmp)
        if special:
            with open(tmp, "rb") as source, open(path, "wb") as sink:
                shutil.copyfileobj(source, sink)
            os.unlink(tmp)
            return
        if os.stat(tmp).st_mode != mode:  # a writer that recreates the file (safetensors makes it 0600)
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
