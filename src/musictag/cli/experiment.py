"""``musictag experiment synthetic``: the synthetic-data study in one command."""

from __future__ import annotations

import argparse
from pathlib import Path

from musictag.cli.options import excerpt_lengths, folds_or_artist3
from musictag.training.recipe import MODES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="STUDY")
    synthetic = kinds.add_parser("synthetic", help="train the six synthetic-to-real modes on every fold")
    synthetic.add_argument("--target", required=True, metavar="SPEC", help="the real data set")
    synthetic.add_argument("--source", required=True, metavar="MANIFEST", help="the synth audio manifest")
    synthetic.add_argument(
        "--folds", default="5", type=folds_or_artist3, help="artist3 (GTZAN's artist-filtered folds) or K (default 5)"
    )
    synthetic.add_argument(
        "--recipe",
        default="synthetic-musicnn",
        metavar="RECIPE",
        help="recipe file or shipped name (default synthetic-musicnn)",
    )
    synthetic.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe setting, e.g. --set neural.epochs=4",
    )
    synthetic.add_argument("--modes", default=",".join(MODES), help=f"subset of {','.join(MODES)} (default: all)")
    synthetic.add_argument("--seed", type=int, default=0, help="fold assignment and plots (default 0)")
    synthetic.add_argument(
        "--output", "-o", default="runs/synthetic", metavar="DIR", help="run folder (default runs/synthetic)"
    )
    synthetic.add_argument(
        "--excerpts",
        default="2-3",
        type=excerpt_lengths,
        metavar="SECONDS|LOW-HIGH",
        help="also score 4 random excerpts of each held-out track, tagged alone (default 2-3; 'none' to skip)",
    )
    synthetic.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    synthetic.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from musictag.evaluation.scoring import Excerpts
    from musictag.studies.synthetic_to_real import run_experiment
    from musictag.synthesis.render import soundfont_note
    from musictag.training.recipe import Recipe
    from musictag.utils.progress import report

    recipe = Recipe.load(args.recipe, [f"data={args.source}", *args.overrides])
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    out = Path(args.output)
    note = soundfont_note(Path(args.source).read_text(errors="replace") if Path(args.source).is_file() else "")
    if note:
        report(f"musictag: note: {note}")
    excerpts = Excerpts.parse(args.excerpts) if args.excerpts else None
    result = run_experiment(
        recipe,
        source=args.source,
        target=args.target,
        folds=args.folds,
        out=out,
        modes=modes,
        seed=args.seed,
        quiet=args.quiet,
        excerpts=excerpts,
    )
    print((out / "results.md").read_text())
    if (out / "embeddings.png").exists():
        print(f"embeddings: {out / 'embeddings.png'}")
    return 0 if result["modes"] else 1
