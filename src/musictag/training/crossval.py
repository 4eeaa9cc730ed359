"""Cross-validation records: mean ± std over folds of every metric, as ``cv.json`` stores them."""

from __future__ import annotations

import numpy as np

from musictag.evaluation.metrics import headline


def summarise(fold_metrics: list[dict]) -> dict:
    """Mean and standard deviation of every scalar metric across folds."""
    keys = [k for k, v in fold_metrics[0].items() if isinstance(v, float)]
    values = {k: [m[k] for m in fold_metrics] for k in keys}
    return {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in values.items()}


def cv_result(per_fold: list[dict], *, folds: int, seed: int, left_out: list[str]) -> dict:
    """The cross-validation record that ``musictag compare`` reads (``cv.json``)."""
    name, _ = headline(per_fold[0])
    return {
        "folds": folds,
        "seed": seed,
        "headline": name,
        "summary": summarise(per_fold),
        "per_fold": per_fold,
        "left_out": left_out,
    }
