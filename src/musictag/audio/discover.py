"""Expand command-line paths into the audio files to process."""

from __future__ import annotations

import os
from pathlib import Path

from musictag.audio.decode import AUDIO_EXTENSIONS


def find_audio(paths: list[str | os.PathLike], *, recursive: bool = False) -> list[str]:
    """Files named directly are kept as given (decoding tells whether they are audio);
    directories contribute their audio files by extension, sorted, descending into
    sub-folders when ``recursive``. Missing paths are kept so that they are reported."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            found.append(str(raw))
            continue
        walker = path.rglob("*") if recursive else path.iterdir()
        found.extend(sorted(str(p) for p in walker if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()))
    return found
