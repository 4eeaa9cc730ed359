"""Progress bars on a terminal, silence in pipes and with --quiet; messages that don't break bars."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress(total: int | None, *, quiet: bool, unit: str = "file", desc: str | None = None) -> tqdm:
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
    tqdm.write(message, file=sys.stderr)
