"""Expand command-line paths into the audio files to process."""

from __future__ import annotations

import os
from pathlib import Path

from musictag.audio.decode import AUDIO_EXTENSIONS


def _is_audio_name(name: str) -> bool:
    """By extension; hidden files (``.DS_Store``, macOS ``._song.mp3`` resource forks) are never audio."""
    return not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS


def _walk(folder: Path, recursive: bool) -> list[str]:
    if not recursive:
        return sorted(str(p) for p in folder.iterdir() if _is_audio_name(p.name) and p.is_file())
    found, seen = [], set()
    for root, dirs, names in os.walk(folder, followlinks=True):  # symlinked sub-folders too
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree: each folder once
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, n) for n in names if _is_audio_name(n) and os.path.isfile(os.path.join(root, n))]
    return sorted(found)


def find_audio(paths: list[str | os.PathLike], *, recursive: bool = False) -> list[str]:
    """Files named directly are kept as given (decoding tells whether they are audio);
    folders contribute their audio files by extension, sorted, descending into sub-folders
    (symlinked ones too, each folder once) when ``recursive``. Missing paths are kept so that
    they are reported."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        found.extend(_walk(path, recursive) if path.is_dir() else [str(raw)])
    return found


def nothing_found(paths: list[str | os.PathLike], *, recursive: bool) -> str:
    """Why :func:`find_audio` found nothing: the folders named, and whether ``-r`` would help."""
    folders = [Path(p) for p in paths if Path(p).is_dir()]
    names = ", ".join(str(p) for p in folders) or ", ".join(str(p) for p in paths)
    if not recursive and any(_walk(folder, True) for folder in folders):
        return f"no audio files found directly in {names}; sub-folders hold some: add -r (--recursive)"
    return f"no audio files found in {names}"
