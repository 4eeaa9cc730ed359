"""``musictag compare``: one table from several training runs or evaluation reports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from musictag.cli.options import check_output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders (cv.json) or report folders (metrics.json)")
    parser.add_argument("--output", "-o", metavar="FILE.md", help="also write the table here (Markdown)")
    parser.set_defaults(run=run_compare)


def _row(folder: Path) -> dict:
    from musictag.errors import ParameterError

    if (folder / "cv.json").is_file():
        cv = json.loads((folder / "cv.json").read_text())
        stats = cv["summary"]
        return {
            "run": cv.get("name", folder.name),
            "protocol": f"{cv['folds']}-fold CV",
            **{k: f"{v['mean']:.4f} ± {v['std']:.4f}" for k, v in stats.items()},
        }
    metrics_file = folder / "metrics.json" if (folder / "metrics.json").is_file() else folder / "test" / "metrics.json"
    if not metrics_file.is_file():
        hint = (
            f"run 'musictag evaluate {folder / 'model'} --data SPEC'"
            if (folder / "model").is_dir()
            else "give a run folder (cv.json, test/metrics.json) or an evaluate report folder (metrics.json)"
        )
        raise ParameterError(f"{folder}: no evaluation found (no cv.json, metrics.json or test/metrics.json): {hint}")
    metrics = json.loads(metrics_file.read_text())
    keys = ("accuracy", "balanced_accuracy", "macro_f1") if metrics["task"] == "single-label" else ("roc_auc", "pr_auc")
    keys += tuple(f"excerpt_{key}" for key in keys[:1] if f"excerpt_{key}" in metrics)
    name = metrics.get("name") or _model_name(folder)
    return {"run": name, "protocol": metrics.get("split", "test"), **{k: f"{metrics[k]:.4f}" for k in keys}}


def _model_name(run: Path) -> str:
    """The name in a run folder's model config, else the folder's name."""
    try:
        return json.loads((run / "model" / "config.json").read_text())["name"]
    except (OSError, ValueError, KeyError):
        return run.name


def run_compare(args: argparse.Namespace) -> int:
    from musictag.utils.atomic import atomic_open

    if args.output:
        check_output(args.output)
    rows = [_row(Path(run)) for run in args.runs]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    table = "\n".join(lines) + "\n"
    print(table, end="")
    if args.output:
        with atomic_open(args.output) as handle:
            handle.write(table)
    return 0
