"""The one data-set interface every adapter returns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

Task = Literal["single-label", "multi-label"]
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Item:
    """One audio clip: an id, where its audio is, its labels, its split and its group."""

    id: str
    path: Path | None  # None when the data set lists a clip whose file is missing
    labels: tuple[str, ...]
    split: str | None = None
    group: str | None = None  # artist or album, for group-aware splits


@dataclass
class Dataset:
    """Items with a label vocabulary in a fixed order.

    ``problems`` lists clips the adapter had to leave out (missing or unreadable files),
    one line each, naming the file; ``layout`` says how the files were read and why.
    """

    name: str
    task: Task
    vocabulary: list[str]
    items: list[Item]
    problems: list[str] = field(default_factory=list)
    layout: str = ""

    def __len__(self) -> int:
        return len(self.items)

    def left_out(self) -> str:
        """Why items may be missing, for an error message: `` (N left out, e.g. <first problem>)``, or ``""``."""
        if not self.problems:
            return ""
        return f" ({len(self.problems)} left out, e.g. {self.problems[0]})"

    def subset(self, split: str) -> list[Item]:
        """The items of ``split`` (``train``, ``valid``, ``test``), in order."""
        return [item for item in self.items if item.split == split]

    def with_splits(self, splits: list[str | None]) -> Dataset:
        """A copy whose items get the given splits (same order as ``items``)."""
        items = [replace(item, split=s) for item, s in zip(self.items, splits, strict=True)]
        return replace(self, items=items)

    def targets(self, items: list[Item] | None = None) -> np.ndarray:
        """Class indices (single-label) or a multi-hot matrix (multi-label)."""
        items = self.items if items is None else items
        index = {label: i for i, label in enumerate(self.vocabulary)}
        if self.task == "single-label":
            return np.array([index[item.labels[0]] for item in items], dtype=np.int64)
        matrix = np.zeros((len(items), len(self.vocabulary)), dtype=np.float32)
        for row, item in enumerate(items):
            matrix[row, [index[label] for label in item.labels if label in index]] = 1
        return matrix

    def summary(self) -> dict:
        """Counts per label and split, for ``musictag data info``."""
        splits = sorted({item.split or "(none)" for item in self.items}, key=_split_order)
        counts = {split: Counter() for split in splits}
        for item in self.items:
            counts[item.split or "(none)"].update(item.labels)
        return {
            "name": self.name,
            "layout": self.layout,
            "task": self.task,
            "items": len(self.items),
            "labels": len(self.vocabulary),
            "splits": {split: sum(1 for i in self.items if (i.split or "(none)") == split) for split in splits},
            "per_label": {label: {split: counts[split][label] for split in splits} for label in self.vocabulary},
            "groups": len({item.group for item in self.items if item.group is not None}),
            "problems": list(self.problems),
        }


def decoded_items(
    items: list[Item], *, sample_rate: int, quiet: bool = True, desc: str | None = None
) -> Iterator[tuple[Item, np.ndarray]]:
    """Each readable item with its mono audio at ``sample_rate``, with a progress bar; an item that
    cannot be decoded is reported on one line and left out."""
    from musictag.audio.stream import load
    from musictag.errors import MusictagError
    from musictag.utils.progress import progress, report

    with progress(len(items), quiet=quiet, desc=desc) as bar:
        for item in items:
            bar.update(1)
            try:
                audio = load(item.path, sample_rate=sample_rate)
            except MusictagError as exc:
                report(f"musictag: {exc} (left out)")
                continue
            yield item, audio


def _split_order(name: str) -> tuple[int, str]:
    return (SPLITS.index(name), name) if name in SPLITS else (len(SPLITS), name)
