"""``musictag evaluate`` and ``musictag compare``: metrics, reports and one comparison table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser("evaluate", help="evaluate a model on a data set split")
    parser.add_argument("model", metavar="MODEL", help="model folder or pretrained name")
    parser.add_argument("--data", required=True, metavar="SPEC")
    parser.add_argument("--split", default="test", help="train, valid, test or all (default test)")
    parser.add_argument("--output", "-o", metavar="DIR", help="report folder (default: <model>/eval-<split>)")
    parser.set_defaults(run=run_evaluate)
    compare = commands.add_parser("compare", help="one table from several runs or reports")
    compare.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders (cv.json) or report folders (metrics.json)"
    )
    compare.add_argument("--output", "-o", metavar="FILE.md", help="also write the table here")
    compare.set_defaults(run=run_compare)


def run_evaluate(args: argparse.Namespace) -> int:
    from musictag.data import open_dataset
    from musictag.errors import ParameterError
    from musictag.evaluation.metrics import headline
    from musictag.evaluation.report import write_report
    from musictag.evaluation.scoring import evaluate_items
    from musictag.inference.tagger import Tagger

    dataset = open_dataset(args.data)
    items = dataset.items if args.split == "all" else dataset.subset(args.split)
    if not items:
        raise ParameterError(f"{args.data}: no items in split {args.split!r}")
    tagger = Tagger(args.model)
    metrics = evaluate_items(tagger, dataset, items)
    metrics["model"], metrics["data"], metrics["split"] = str(args.model), args.data, args.split
    out = Path(args.output) if args.output else Path(args.model) / f"eval-{args.split}"
    write_report(metrics, out, title=f"{tagger.name} on {args.data} ({args.split})")
    name, value = headline(metrics)
    print(f"{tagger.name}: {name} {value:.4f} on {metrics['n']} items -> {out}")
    return 0


def _row(folder: Path) -> dict:
    from musictag.errors import ParameterError

    if (folder / "cv.json").is_file():
        cv = json.loads((folder / "cv.json").read_text())
        stats = cv["summary"]
        return {"run": cv.get("name", folder.name), "protocol": f"{cv['folds']}-fold CV",
                **{k: f"{v['mean']:.4f} ± {v['std']:.4f}" for k, v in stats.items()}}  # fmt: skip
    metrics_file = folder / "metrics.json" if (folder / "metrics.json").is_file() else folder / "test" / "metrics.json"
    if not metrics_file.is_file():
        raise ParameterError(f"{folder}: neither cv.json nor metrics.json found")
    metrics = json.loads(metrics_file.read_text())
    keys = ("accuracy", "balanced_accuracy", "macro_f1") if metrics["task"] == "single-label" else ("roc_auc", "pr_auc")
    return {"run": folder.name, "protocol": metrics.get("split", "test"), **{k: f"{metrics[k]:.4f}" for k in keys}}


def run_compare(args: argparse.Namespace) -> int:
    from musictag.utils.atomic import atomic_open

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
