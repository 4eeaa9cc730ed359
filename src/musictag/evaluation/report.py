"""Write evaluation reports: JSON, Markdown and a confusion-matrix picture."""

from __future__ import annotations

import json
from pathlib import Path

from musictag.plots import confusion_png
from musictag.utils.atomic import atomic_open


def markdown(metrics: dict, *, title: str) -> str:
    """The metrics as a Markdown report under ``title``: headline figures, then per class or tag."""
    lines = [f"# {title}", ""]
    if metrics["task"] == "single-label":
        lines += [
            f"- items: {metrics['n']}",
            f"- accuracy: {metrics['accuracy']:.4f}",
            f"- balanced accuracy: {metrics['balanced_accuracy']:.4f}",
            f"- macro F1: {metrics['macro_f1']:.4f}",
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
            for c, v in metrics["per_class"].items()
        ]
    else:
        lines += [
            f"- items: {metrics['n']}",
            f"- macro ROC-AUC: {metrics['roc_auc']:.4f}",
            f"- macro PR-AUC: {metrics['pr_auc']:.4f}",
            "",
        ]
        lines += ["| tag | ROC-AUC | PR-AUC |", "|---|---|---|"]
        lines += [f"| {t} | {v['roc_auc']:.3f} | {v['pr_auc']:.3f} |" for t, v in metrics["per_tag"].items()]
    return "\n".join(lines) + "\n"


def write_report(metrics: dict, folder: str | Path, *, title: str) -> Path:
    """``metrics.json``, ``report.md`` and, for classifiers, ``confusion.png`` in ``folder``."""
    folder = Path(folder)
    with atomic_open(folder / "metrics.json") as handle:
        json.dump(metrics, handle, indent=2)
    with atomic_open(folder / "report.md") as handle:
        handle.write(markdown(metrics, title=title))
    if metrics["task"] == "single-label":
        confusion_png(metrics["confusion"], metrics["labels"], folder / "confusion.png")
    return folder
