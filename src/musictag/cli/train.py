"""``musictag train RECIPE``: train (or cross-validate) what a recipe describes."""

from __future__ import annotations

import argparse

from musictag.cli.options import excerpt_lengths, fold_count, positive_int
from musictag.training.recipe import MODES, shipped_recipes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "recipe", metavar="RECIPE", help=f"a YAML recipe file, or a shipped one: {', '.join(shipped_recipes())}"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe setting, e.g. --set data=gtzan:DIR --set transfer.hop=3",
    )
    parser.add_argument(
        "--folds",
        type=fold_count,
        metavar="K",
        help="k-fold cross-validation instead of the data set's splits; artist-disjoint when the data names "
        "artists (e.g. gtzan:DIR?groups=artist&lists=SPLITS, or a manifest's group column)",
    )
    parser.add_argument("--output", "-o", metavar="DIR", help="run folder (default: runs/<recipe name>)")
    parser.add_argument(
        "--excerpts",
        default="2-3",
        type=excerpt_lengths,
        metavar="SECONDS|LOW-HIGH",
        help="classifiers: also score 4 random excerpts of each held-out track, each tagged alone "
        "as a new clip (default 2-3; 'none' to skip)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    synthetic = parser.add_argument_group("synthetic to real (neural recipes; the recipe's data is the real target)")
    synthetic.add_argument("--mode", choices=MODES, help="training strategy of the synthetic-data study")
    synthetic.add_argument("--source", metavar="MANIFEST", help="the synthetic clips (a `synth audio` manifest)")
    synthetic.add_argument(
        "--source-model",
        metavar="DIR",
        help="TL/FT: the src_only model folder (default: the run's sibling src_only, trained first if missing)",
    )
    lightning = parser.add_argument_group("distributed training (neural recipes; passed to Lightning)")
    lightning.add_argument("--accelerator", help="cpu, gpu, auto ...")
    lightning.add_argument("--devices", help="devices per node (a number, a list or 'auto')")
    lightning.add_argument("--num-nodes", type=positive_int, dest="num_nodes", help="machines (default 1)")
    lightning.add_argument("--strategy", help="auto, ddp, ddp_spawn, fsdp ...")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from musictag.evaluation.metrics import headline
    from musictag.evaluation.scoring import Excerpts
    from musictag.training.recipe import Recipe
    from musictag.training.runner import RunOptions, run_recipe

    excerpts = Excerpts.parse(args.excerpts) if args.excerpts else None
    options = RunOptions(
        folds=args.folds,
        output=args.output,
        quiet=args.quiet,
        mode=args.mode,
        source=args.source,
        source_model=args.source_model,
        accelerator=args.accelerator,
        devices=args.devices,
        num_nodes=args.num_nodes,
        strategy=args.strategy,
        excerpts=excerpts,
    )
    result = run_recipe(Recipe.load(args.recipe, args.overrides), options)
    if not result.main_process:
        return 0
    print(f"data: {result.data}")
    if result.cv:
        _print_cv(result, excerpts)
    if result.model:
        print(f"model: {result.model}")
    if result.fit:
        print("fit: " + ", ".join(f"{key} {_shown(value)}" for key, value in result.fit.items()))
    if result.test:
        name, value = headline(result.test)
        print(f"test: {value:.4f} ({name} on {result.test['n']} items) -> {result.out / 'test'}")
        if f"excerpt_{name}" in result.test:
            print(f"test: {result.test[f'excerpt_{name}']:.4f} ({name} on {excerpts.describe()})")
    return 0


def _print_cv(result, excerpts) -> None:
    """The cross-validated figures, the excerpt one (closest to a clip of new music) first."""
    from musictag.evaluation.metrics import headline
    from musictag.utils.progress import report

    name, _ = headline(result.cv["per_fold"][0])
    summary, folds = result.cv["summary"], f"{result.cv['folds']}-fold {result.cv['held_out']}-disjoint"
    if f"excerpt_{name}" in summary:
        stats = summary[f"excerpt_{name}"]
        print(f"{result.name}: {folds} {name} on {excerpts.describe()} of the held-out tracks {_spread(stats)}")
    print(f"{result.name}: {folds} {name} {_spread(summary[name])} -> {result.out}")
    if result.cv["held_out"] == "track" and f"excerpt_{name}" in summary:
        report(
            "musictag: note: these folds hold out tracks, not artists, and overstate new music; "
            "name the artists for artist-disjoint folds (GTZAN: ?groups=artist&lists=SPLITS_DIR)"
        )


def _spread(stats: dict) -> str:
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"


def _shown(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
