"""Write evaluation reports: JSON, Markdown and confusion-matrix pictures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from musictag.utils.atomic import atomic_open, atomic_path


def markdown(metrics: dict, *, title: str) -> str:
    lines = [f"# {title}", ""]
    if metrics["task"] == "single-label":
        lines += [f"- items: {metrics['n']}", f"- accuracy: {metrics['accuracy']:.4f}",
                  f"- balanced accuracy: {metrics['balanced_accuracy']:.4f}", f"- macro F1: {metrics['macro_f1']:.4f}",
                  "", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                  for c, v in metrics["per_class"].items()]  # fmt: skip
    else:
        lines += [f"- items: {metrics['n']}", f"- macro ROC-AUC: {metrics['roc_auc']:.4f}",
                  f"- macro PR-AUC: {metrics['pr_auc']:.4f}", ""]  # fmt: skip
        lines += ["| tag | ROC-AUC | PR-AUC |", "|---|---|---|"]
        lines += [f"| {t} | {v['roc_auc']:.3f} | {v['pr_auc']:.3f} |" for t, v in metrics["per_tag"].items()]
    return "\n".join(lines) + "\n"


def confusion_png(metrics: dict, path: Path) -> None:
    """Counts and row-normalised confusion matrices side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.array(metrics["confusion"], dtype=float)
    normalised = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    labels = metrics["labels"]
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.1 * len(labels), 2 + 0.5 * len(labels)))
    for ax, matrix, title, fmt in (
        (axes[0], counts, "counts", "{:.0f}"),
        (axes[1], normalised, "normalised", "{:.2f}"),
    ):
        ax.imshow(matrix, cmap="Blues")
        ax.set_title(title)
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for (i, j), value in np.ndenumerate(matrix):
            color = "white" if value > matrix.max() / 2 else "black"
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7, color=color)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def write_report(metrics: dict, folder: str | Path, *, title: str) -> Path:
    """``metrics.json``, ``report.md`` and, for classifiers, ``confusion.png`` in ``folder``."""
    folder = Path(folder)
    with atomic_open(folder / "metrics.json") as handle:
        json.dump(metrics, handle, indent=2)
    with atomic_open(folder / "report.md") as handle:
        handle.write(markdown(metrics, title=title))
    if metrics["task"] == "single-label":
        confusion_png(metrics, folder / "confusion.png")
    return folder
