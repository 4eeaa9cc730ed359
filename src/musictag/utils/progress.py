"""Progress bars on a terminal, silence in pipes and with --quiet; messages that don't break bars."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm


def progress(total: int | None, *, quiet: bool, unit: str = "file", desc: str | None = None) -> tqdm:
    """A tqdm bar on stderr, shown only on a terminal and without ``quiet``; use as a context."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit=unit,
        desc=desc,
        disable=quiet or not sys.stderr.isatty(),
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
    )


def report(message: str) -> None:
    """One line on stderr, written so that an active progress bar stays intact."""
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")  # file names need not be UTF-8
    if "tqdm" not in sys.modules:  # no bar can be active
        sys.stderr.write(message + "\n")
        return
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def counted(n: float, noun: str) -> str:
    """``n`` and the noun, plural unless ``n`` is 1: "1 file", "2,048 files", "1 minute", "0.5 minutes"."""
    shown = f"{n:,}" if isinstance(n, int) else f"{n:g}"
    return f"{shown} {noun}" + ("" if n == 1 else "s")
