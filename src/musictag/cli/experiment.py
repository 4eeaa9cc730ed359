"""``musictag experiment synthetic``: the synthetic-data study in one command."""

from __future__ import annotations

import argparse
from pathlib import Path

from musictag.cli.train import _settings
from musictag.data import open_dataset
from musictag.errors import ParameterError
from musictag.training.experiment import embedding_plot, fold_pairs, run_synthetic
from musictag.training.modes import MODES
from musictag.training.neural import NeuralSettings
from musictag.training.recipe import load_recipe


def add_parser(commands) -> None:
    parser = commands.add_parser("experiment", help="multi-model studies")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="STUDY")
    synthetic = kinds.add_parser("synthetic", help="train the six synthetic-to-real modes on every fold")
    synthetic.add_argument("--target", required=True, metavar="SPEC", help="the real data set")
    synthetic.add_argument("--source", required=True, metavar="MANIFEST", help="the synth audio manifest")
    synthetic.add_argument("--folds", default="5", help="artist3 (GTZAN's artist-filtered folds) or K (default 5)")
    synthetic.add_argument("--recipe", default="recipes/synthetic-musicnn.yaml", metavar="RECIPE.yaml")
    synthetic.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    synthetic.add_argument("--modes", default=",".join(MODES), help=f"subset of {','.join(MODES)}")
    synthetic.add_argument("--seed", type=int, default=0)
    synthetic.add_argument("--output", "-o", default="runs/synthetic", metavar="DIR")
    synthetic.add_argument("--quiet", "-q", action="store_true")
    synthetic.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ParameterError(f"unknown modes {', '.join(sorted(unknown))}; choose from {', '.join(MODES)}")
    recipe = load_recipe(args.recipe, [f"data={args.source}", *args.overrides])
    settings = _settings({**recipe, "kind": "neural"}, NeuralSettings)
    source = open_dataset(args.source)
    target, pairs = fold_pairs(args.target, args.folds, seed=args.seed)
    out = Path(args.output)
    result = run_synthetic(source, target, pairs, settings, out, modes=modes, quiet=args.quiet)
    print((out / "results.md").read_text())
    plots = {name: out / "fold1" / name / "model" for name in ("both", "DA") if name in modes}
    if plots:
        embedding_plot(plots, source, target, out / "embeddings.png", seed=args.seed)
        print(f"embeddings: {out / 'embeddings.png'}")
    return 0 if result["modes"] else 1
