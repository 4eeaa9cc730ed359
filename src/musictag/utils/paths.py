"""Where musictag keeps its files."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$MUSICTAG_CACHE``, else ``$XDG_CACHE_HOME/musictag``, else ``~/.cache/musictag``."""
    if os.environ.get("MUSICTAG_CACHE"):
        return Path(os.environ["MUSICTAG_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "musictag"
