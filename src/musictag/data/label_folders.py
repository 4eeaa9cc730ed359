"""Your own audio: a folder per label, or plain audio files without labels."""

from __future__ import annotations

from pathlib import Path

from musictag.audio.decode import AUDIO_EXTENSIONS
from musictag.data.dataset import Dataset, Item
from musictag.errors import ParameterError


def load_label_folders(root: str | Path) -> Dataset:
    """``root/<label>/**/<audio>``: single-label, labels in sorted folder order."""
    root = Path(root)
    if not root.is_dir():
        raise ParameterError(f"{root}: folder not found")
    labels = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    items = []
    for label in labels:
        for path in sorted((root / label).rglob("*")):
            if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
                items.append(Item(id=str(path.relative_to(root)), path=path, labels=(label,)))
    if not items:
        raise ParameterError(f"{root}: no audio files in label sub-folders")
    return Dataset(f"folders:{root.name}", "single-label", labels, items)


def load_audio_files(root: str | Path) -> Dataset:
    """Every audio file under ``root``, unlabelled: enough to extract features or tag."""
    root = Path(root)
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    if not paths:
        raise ParameterError(f"{root}: no audio files")
    return Dataset(f"files:{root.name}", "single-label", [], [Item(str(p.relative_to(root)), p, ()) for p in paths])
