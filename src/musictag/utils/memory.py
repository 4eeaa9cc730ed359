"""Keep freed memory for reuse during per-file batch work (glibc only; a no-op elsewhere).

glibc's malloc hands every freed block above its mmap threshold (128 KiB, rising to at most
32 MiB) back to the system, so a loop that allocates and frees the same few-megabyte arrays
for every file page-faults all of them in again each time. Feature extraction does exactly
that (waveform, frames, spectrum, mel), and the faults were 40 % of its log-mel time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from functools import lru_cache

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
_DEFAULT = 128 * 1024  # glibc's initial value of both


@lru_cache(maxsize=1)
def _libc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def keep_freed_memory(enabled: bool = True) -> bool:
    """Serve allocations below 256 MiB from the heap and keep up to 512 MiB of freed memory
    (``enabled``), or go back to glibc's initial thresholds; returns whether it took effect."""
    libc = _libc()
    if libc is None:
        return False
    mmap, trim = (1 << 28, 1 << 29) if enabled else (_DEFAULT, _DEFAULT)
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, trim))
