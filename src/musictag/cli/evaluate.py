"""``musictag evaluate``: a model's metrics and report on a data set."""

from __future__ import annotations

import argparse
from pathlib import Path

from musictag.cli.options import check_output, excerpt_lengths, model_name, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
