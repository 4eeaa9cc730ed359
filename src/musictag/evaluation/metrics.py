"""Metrics: accuracy and friends for classifiers, ROC-AUC / PR-AUC for taggers."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)


def classification_metrics(targets: np.ndarray, scores: np.ndarray, labels: list[str]) -> dict:
    """Single-label: ``targets`` class indices ``(n,)``, ``scores`` ``(n, classes)``."""
    predicted = scores.argmax(axis=1)
    classes = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predicted, labels=classes, zero_division=0
    )
    return {
        "task": "single-label",
        "n": int(len(targets)),
        "accuracy": float((predicted == targets).mean()),
        "balanced_accuracy": _balanced_accuracy(targets, predicted),
        "macro_f1": float(f1_score(targets, predicted, labels=classes, average="macro", zero_division=0)),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "confusion": confusion_matrix(targets, predicted, labels=classes).tolist(),
        "labels": list(labels),
    }


def _balanced_accuracy(targets: np.ndarray, predicted: np.ndarray) -> float:
    """Mean recall over the classes present (a test fold may hold only some, e.g. artist-disjoint)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*y_pred contains classes not in y_true.*")
        return float(balanced_accuracy_score(targets, predicted))


def tagging_metrics(targets: np.ndarray, scores: np.ndarray, labels: list[str]) -> dict:
    """Multi-label: ``targets`` and ``scores`` ``(n, tags)``; tags with one class only are skipped."""
    per_tag = {}
    for j, label in enumerate(labels):
        column = targets[:, j]
        if 0 < column.sum() < len(column):
            per_tag[label] = {
                "roc_auc": float(roc_auc_score(column, scores[:, j])),
                "pr_auc": float(average_precision_score(column, scores[:, j])),
            }
    return {
        "task": "multi-label",
        "n": int(len(targets)),
        "roc_auc": float(np.mean([v["roc_auc"] for v in per_tag.values()])) if per_tag else float("nan"),
        "pr_auc": float(np.mean([v["pr_auc"] for v in per_tag.values()])) if per_tag else float("nan"),
        "per_tag": per_tag,
        "skipped_tags": [label for label in labels if label not in per_tag],
    }


def headline(metrics: dict) -> tuple[str, float]:
    """The number a comparison sorts by: accuracy or macro ROC-AUC."""
    return ("accuracy", metrics["accuracy"]) if metrics["task"] == "single-label" else ("roc_auc", metrics["roc_auc"])


def task_metrics(task: str, targets: np.ndarray, scores: np.ndarray, labels: list[str]) -> dict:
    """:func:`classification_metrics` for single-label data, :func:`tagging_metrics` for multi-label."""
    evaluate = classification_metrics if task == "single-label" else tagging_metrics
    return evaluate(targets, scores, labels)
