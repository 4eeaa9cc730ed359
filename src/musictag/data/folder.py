"""Your own data: a folder per label, or a CSV/TSV manifest."""

from __future__ import annotations

import csv
from pathlib import Path

from musictag.audio.decode import AUDIO_EXTENSIONS
from musictag.data.dataset import SPLITS, Dataset, Item
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


def load_manifest(path: str | Path) -> Dataset:
    """A CSV or TSV manifest with columns ``path``, ``labels`` (``;``-separated), optional
    ``split`` and ``group``. Relative paths are resolved against the manifest's folder. The task
    is multi-label when any row has several labels."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: manifest not found")
    with open(path, newline="", encoding="utf-8") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        delimiter = "\t" if path.suffix.lower() == ".tsv" or sample.count("\t") > sample.count(",") else ","
        rows = list(csv.DictReader(handle, delimiter=delimiter))
    if not rows or "path" not in rows[0] or "labels" not in rows[0]:
        raise ParameterError(f"{path}: a manifest needs 'path' and 'labels' columns")
    items, problems, vocabulary = [], [], {}
    for line, row in enumerate(rows, start=2):
        audio = Path(row["path"])
        audio = audio if audio.is_absolute() else path.parent / audio
        labels = tuple(label.strip() for label in (row["labels"] or "").split(";") if label.strip())
        split = (row.get("split") or "").strip() or None
        if split is not None and split not in SPLITS:
            raise ParameterError(f"{path}:{line}: split must be one of {', '.join(SPLITS)}, got {split!r}")
        if not audio.is_file():
            problems.append(f"{audio}: missing (manifest line {line})")
            continue
        vocabulary.update(dict.fromkeys(labels))
        items.append(Item(id=row["path"], path=audio, labels=labels, split=split,
                          group=(row.get("group") or "").strip() or None))  # fmt: skip
    task = "multi-label" if any(len(item.labels) != 1 for item in items) else "single-label"
    return Dataset(f"manifest:{path.parent.name}/{path.name}", task, sorted(vocabulary), items, problems)
