"""``musictag evaluate`` and ``musictag compare``: metrics, reports and one comparison table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from musictag.cli.options import check_output, excerpt_lengths, model_name, positive_int


def add_parser(commands) -> None:
    parser = commands.add_parser("evaluate", help="evaluate a model on a data set split")
    parser.add_argument("model", metavar="MODEL", type=model_name, help="model folder or pretrained name")
    parser.add_argument(
        "--data",
        required=True,
        metavar="SPEC",
        help="the data set, e.g. gtzan:DIR?split=fault-filtered&lists=DIR (see 'musictag data info')",
    )
    parser.add_argument(
        "--split", default="test", choices=("train", "valid", "test", "all"), help="which items to score (default test)"
    )
    parser.add_argument("--output", "-o", metavar="DIR", help="report folder (default: <model>/eval-<split>)")
    parser.add_argument(
        "--excerpts",
        type=excerpt_lengths,
        metavar="SECONDS|LOW-HIGH",
        help="also score random excerpts of this length (e.g. 2-3), each tagged alone as a new clip",
    )
    parser.add_argument(
        "--excerpts-per-item",
        type=positive_int,
        default=4,
        metavar="N",
        help="excerpts per item (default 4; seeded, the same on every run)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_evaluate)
    compare = commands.add_parser("compare", help="one table from several runs or reports")
    compare.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders (cv.json) or report folders (metrics.json)"
    )
    compare.add_argument("--output", "-o", metavar="FILE.md", help="also write the table here (Markdown)")
    compare.set_defaults(run=run_compare)


def run_evaluate(args: argparse.Namespace) -> int:
    from musictag.data.load import open_dataset
    from musictag.errors import ParameterError
    from musictag.evaluation.metrics import headline
    from musictag.evaluation.report import write_report
    from musictag.evaluation.scoring import Excerpts, evaluate_items
    from musictag.inference.factory import open_tagger
    from musictag.utils.progress import report

    dataset = open_dataset(args.data)
    items = dataset.items if args.split == "all" else dataset.subset(args.split)
    if not items:
        raise ParameterError(f"{args.data}: no items in split {args.split!r}{dataset.left_out()}")
    out = check_output(args.output if args.output else Path(args.model) / f"eval-{args.split}", folder=True)
    tagger = open_tagger(args.model)
    trained = tagger.config.info.get("trained_on", {})
    seen = set(trained.get("ids", [])) if trained.get("data") == dataset.name else set()
    overlap = sum(item.id in seen for item in items)
    if overlap:
        report(
            f"musictag: warning: {overlap} of these {len(items)} items trained the model; this is no held-out figure"
        )
    excerpts = Excerpts.parse(args.excerpts, per_item=args.excerpts_per_item) if args.excerpts else None
    metrics = evaluate_items(tagger, dataset, items, excerpts=excerpts, quiet=args.quiet)
    metrics.update(name=tagger.name, model=str(args.model), data=args.data, split=args.split, seen_in_training=overlap)
    write_report(metrics, out, title=f"{tagger.name} on {args.data} ({args.split})")
    name, value = headline(metrics)
    print(f"{tagger.name}: {name} {value:.4f} on {metrics['n']} items -> {out}")
    if excerpts:
        print(
            f"{tagger.name}: {name} {metrics[f'excerpt_{name}']:.4f} on {metrics['excerpts']['n']} excerpts "
            f"({excerpts.describe()})"
        )
    return 0


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
