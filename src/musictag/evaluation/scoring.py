"""Score a tagger on data-set items: the one evaluation path for pretrained and trained models.

Whole tracks are tagged as ``musictag tag`` tags files. With :class:`Excerpts`, every item also
gives a few short, seeded random excerpts, each tagged on its own through the same path (the
Tagger's array input), which is what a user who tags a clip of new music gets: the excerpt
metrics are stored beside the whole-track ones with an ``excerpt_`` prefix.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from musictag.audio.arrays import AudioArray
from musictag.data.dataset import Dataset, Item, decoded_items
from musictag.errors import MusictagError, ParameterError
from musictag.evaluation.metrics import task_metrics
from musictag.inference.results import FileError
from musictag.inference.tagger import Tagger
from musictag.utils.progress import progress, report


@dataclass(frozen=True)
class Excerpts:
    """``per_item`` random excerpts from every item, each ``shortest`` to ``longest`` seconds long
    (uniformly drawn), reproducible from ``seed`` and the item's id."""

    shortest: float = 2.0
    longest: float = 3.0
    per_item: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.shortest <= self.longest or self.per_item < 1:
            raise ParameterError(f"excerpts need 0 < shortest <= longest and at least one per item, got {self}")

    @classmethod
    def parse(cls, text: str, *, per_item: int = 4) -> Excerpts:
        """``2.5`` (fixed length) or ``2-3`` (a range of lengths), in seconds."""
        low, _, high = text.partition("-")
        try:
            return cls(float(low), float(high or low), per_item)
        except ValueError:
            raise ParameterError(f"excerpt length must be SECONDS or LOW-HIGH, got {text!r}") from None

    def describe(self) -> str:
        """How the excerpts are cut, in words (e.g. "4 excerpts of 2-3 s per item")."""
        length = f"{self.shortest:g}" if self.shortest == self.longest else f"{self.shortest:g}-{self.longest:g}"
        return f"{self.per_item} excerpts of {length} s per item"

    def cut(self, audio: np.ndarray, rate: int, key: str) -> list[np.ndarray]:
        """The excerpts of one item's audio (the whole of it when it is not longer than the excerpts)."""
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode("utf-8", "surrogateescape"))])
        lengths = np.round(rng.uniform(self.shortest, self.longest, self.per_item) * rate).astype(int)
        if len(audio) <= lengths.max():
            return [audio]
        starts = [int(rng.integers(0, len(audio) - n + 1)) for n in lengths]
        return [audio[start : start + n] for start, n in zip(starts, lengths, strict=True)]


def _label_columns(tagger: Tagger, dataset: Dataset) -> list[int]:
    index = {label: i for i, label in enumerate(tagger.labels)}
    missing = [label for label in dataset.vocabulary if label not in index]
    if missing:
        raise ParameterError(f"the model does not know the data set's labels {', '.join(missing[:5])}")
    return [index[label] for label in dataset.vocabulary]


def evaluate_items(
    tagger: Tagger, dataset: Dataset, items: list[Item], *, excerpts: Excerpts | None = None, quiet: bool = True
) -> dict:
    """Tag ``items`` and score them against their labels (unreadable items are reported and skipped);
    with ``excerpts``, also score short excerpts of them (``excerpt_*`` keys and ``excerpts``)."""
    columns = _label_columns(tagger, dataset)
    scores, kept = [], []
    with progress(len(items), quiet=quiet, desc="evaluate") as bar:
        for item, result in zip(items, tagger.tag_many([item.path for item in items]), strict=True):
            bar.update(1)
            if isinstance(result, FileError):
                report(f"musictag: {result.error} (left out)")
                continue
            scores.append(result.scores[columns])
            kept.append(item)
    if not kept:
        raise MusictagError("no item could be scored")
    metrics = task_metrics(dataset.task, dataset.targets(kept), np.stack(scores), dataset.vocabulary)
    if excerpts is not None:
        detail = excerpt_metrics(tagger, dataset, kept, excerpts, quiet=quiet)
        metrics.update({f"excerpt_{k}": v for k, v in detail.items() if isinstance(v, float)})
        metrics["excerpts"] = detail
    return metrics


def excerpt_metrics(
    tagger: Tagger, dataset: Dataset, items: list[Item], excerpts: Excerpts, *, quiet: bool = True
) -> dict:
    """Metrics over every excerpt of ``items``, each tagged alone (see :class:`Excerpts`)."""
    columns = _label_columns(tagger, dataset)
    rate = tagger.sample_rate  # decoded once at the rate the model reads, then cut
    scores, owners = [], []
    for item, audio in decoded_items(items, sample_rate=rate, quiet=quiet, desc="excerpts"):
        cut = excerpts.cut(audio, rate, item.id)
        for result in tagger.tag_many([AudioArray(clip, rate, f"{item.id}@{n}") for n, clip in enumerate(cut)]):
            if not isinstance(result, FileError):
                scores.append(result.scores[columns])
                owners.append(item)
    if not scores:
        raise MusictagError("no excerpt could be scored")
    metrics = task_metrics(dataset.task, dataset.targets(owners), np.stack(scores), dataset.vocabulary)
    metrics["excerpt"] = {
        "shortest": excerpts.shortest,
        "longest": excerpts.longest,
        "per_item": excerpts.per_item,
        "seed": excerpts.seed,
    }
    return metrics
