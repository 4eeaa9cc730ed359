"""Your own audio: a folder per label, or plain audio files without labels."""

from __future__ import annotations

from pathlib import Path

from musictag.audio.discover import find_audio
from musictag.data.dataset import Dataset, Item
from musictag.errors import ParameterError


def load_label_folders(root: str | Path) -> Dataset:
    """``root/<label>/**/<audio>``: single-label, labels in sorted folder order."""
    root = Path(root)
    if not root.is_dir():
        raise ParameterError(f"{root}: folder not found")
    labels = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    items = [
        Item(id=str(Path(path).relative_to(root)), path=Path(path), labels=(label,))
        for label in labels
        for path in find_audio([root / label], recursive=True)
    ]
    loose = find_audio([root])  # audio beside the label folders has no label
    problems = [f"{path}: not in a label folder, left out" for path in loose]
    if not items:
        raise ParameterError(f"{root}: no audio files in label sub-folders")
    return Dataset(f"folders:{root.name}", "single-label", labels, items, problems)


def load_audio_files(root: str | Path) -> Dataset:
    """Every audio file under ``root``, unlabelled: enough to extract features or tag."""
    root = Path(root)
    paths = [Path(p) for p in find_audio([root], recursive=True)]
    if not paths:
        raise ParameterError(f"{root}: no audio files")
    return Dataset(f"files:{root.name}", "single-label", [], [Item(str(p.relative_to(root)), p, ()) for p in paths])
