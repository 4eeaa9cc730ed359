"""Score a tagger on data-set items: the one evaluation path for pretrained and trained models."""

from __future__ import annotations

import numpy as np

from musictag.data.dataset import Dataset, Item
from musictag.errors import ParameterError
from musictag.evaluation.metrics import task_metrics
from musictag.inference.results import FileError
from musictag.inference.tagger import Tagger
from musictag.utils.progress import report


def evaluate_items(tagger: Tagger, dataset: Dataset, items: list[Item]) -> dict:
    """Tag ``items`` and score them against their labels (unreadable items are reported and skipped)."""
    index = {label: i for i, label in enumerate(tagger.labels)}
    missing = [label for label in dataset.vocabulary if label not in index]
    if missing:
        raise ParameterError(f"the model does not know the data set's labels {', '.join(missing[:5])}")
    scores, kept = [], []
    for item, result in zip(items, tagger.tag_many([item.path for item in items]), strict=True):
        if isinstance(result, FileError):
            report(f"musictag: {result.error} (left out)")
            continue
        scores.append(result.scores[[index[label] for label in dataset.vocabulary]])
        kept.append(item)
    scores = np.stack(scores)
    targets = dataset.targets(kept)
    return task_metrics(dataset.task, targets, scores, dataset.vocabulary)
