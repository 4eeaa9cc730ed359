"""A CSV or TSV manifest of audio files and their labels, splits and groups."""

from __future__ import annotations

import csv
from pathlib import Path

from musictag.data.dataset import SPLITS, Dataset, Item
from musictag.errors import ParameterError


def load_manifest(path: str | Path, *, overlap: str = "refuse") -> Dataset:
    """A CSV or TSV manifest with columns ``path``, ``labels`` (``;``-separated), optional
    ``split`` and ``group``. Relative paths are resolved against the manifest's folder. The task
    is multi-label when any row has several labels.

    A row without labels is reported in ``problems``. A file listed in two splits (test items
    leaking into training) is refused unless ``overlap='allow'`` (``?overlap=allow`` in the SPEC).
    """
    if overlap not in ("refuse", "allow"):
        raise ParameterError(f"{path}: overlap must be 'refuse' or 'allow', got {overlap!r}")
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
        if not labels:
            problems.append(f"{path}:{line}: {row['path']} has no labels (kept, unlabelled)")
        vocabulary.update(dict.fromkeys(labels))
        items.append(
            Item(id=row["path"], path=audio, labels=labels, split=split, group=(row.get("group") or "").strip() or None)
        )
    splits_of: dict[Path, set] = {}
    for item in items:
        splits_of.setdefault(item.path.resolve(), set()).add(item.split)
    leaking = sorted(str(p) for p, splits in splits_of.items() if len(splits - {None}) > 1)
    if leaking and overlap == "refuse":
        raise ParameterError(
            f"{path}: {len(leaking)} file(s) in more than one split, e.g. {leaking[0]}: test items "
            "would leak into training (add ?overlap=allow to the SPEC to accept)"
        )
    problems += [f"{p}: in more than one split (overlap allowed)" for p in leaking]
    task = "multi-label" if any(len(item.labels) != 1 for item in items) else "single-label"
    return Dataset(f"manifest:{path.parent.name}/{path.name}", task, sorted(vocabulary), items, problems)
