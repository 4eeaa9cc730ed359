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


def unique_stems(paths: list[str]) -> list[str]:
    """A distinct output name per input: the file's stem, with as many parent folders as it takes to tell
    files of the same name apart (``a/song.wav``, ``b/song.wav`` -> ``a-song``, ``b-song``), then a number."""
    stems = [Path(path).stem for path in paths]
    absolute = [Path(os.path.abspath(path)) for path in paths]
    for depth in range(1, 1 + max((len(p.parts) for p in absolute), default=0)):
        clashing = {stem for stem in stems if stems.count(stem) > 1}
        if not clashing:
            return stems
        for i, stem in enumerate(stems):
            if stem in clashing:
                parents = [part for part in absolute[i].parent.parts[-depth:] if part != os.sep]
                stems[i] = "-".join([*parents, absolute[i].stem])
    seen: dict[str, int] = {}
    out = []
    for stem in stems:  # the same file named twice
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


def is_under(path: str, roots: list[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or lies inside one (a string test on absolute paths: resolve
    links first where they matter)."""
    for root in roots:
        base = root.rstrip(os.sep) or os.sep
        if path == base or path.startswith(base if base.endswith(os.sep) else base + os.sep):
            return True
    return False
