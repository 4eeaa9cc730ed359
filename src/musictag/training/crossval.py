"""Cross-validation of transfer heads: one comparison row, mean ± std over folds."""

from __future__ import annotations

import numpy as np

from musictag.data.dataset import Dataset
from musictag.data.splits import group_kfold, stratified_group_kfold
from musictag.evaluation.metrics import classification_metrics, headline, tagging_metrics
from musictag.training.transfer import TransferSettings, fit_head, head_scores, track_embeddings


def summarise(fold_metrics: list[dict]) -> dict:
    """Mean and standard deviation of every scalar metric across folds."""
    keys = [k for k, v in fold_metrics[0].items() if isinstance(v, float)]
    values = {k: [m[k] for m in fold_metrics] for k in keys}
    return {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in values.items()}


def cv_result(per_fold: list[dict], *, folds: int, seed: int, left_out: list[str]) -> dict:
    """The cross-validation record that ``musictag compare`` reads (``cv.json``)."""
    name, _ = headline(per_fold[0])
    return {"folds": folds, "seed": seed, "headline": name, "summary": summarise(per_fold), "per_fold": per_fold,
            "left_out": left_out}  # fmt: skip


def cross_validate_transfer(
    dataset: Dataset, settings: TransferSettings, *, folds: int = 5, seed: int = 0, embeddings: dict | None = None
) -> dict:
    """Stratified (group-aware when items have groups) k-fold CV; backbone embeddings computed once."""
    embeddings = embeddings if embeddings is not None else track_embeddings(dataset.items, settings)
    items = [item for item in dataset.items if item.id in embeddings]
    kfold = stratified_group_kfold if dataset.task == "single-label" else group_kfold
    assignment = np.array(kfold(items, folds, seed=seed))
    x = np.stack([embeddings[item.id] for item in items])
    y = dataset.targets(items)
    per_fold = []
    for fold in range(folds):
        train, test = assignment != fold, assignment == fold
        head = fit_head(x[train], y[train], dataset.task, settings)
        scores = head_scores(x[test], head, dataset.task)
        metric = classification_metrics if dataset.task == "single-label" else tagging_metrics
        per_fold.append(metric(y[test], scores, dataset.vocabulary))
    return cv_result(per_fold, folds=folds, seed=seed, left_out=[i.id for i in dataset.items if i.id not in embeddings])
