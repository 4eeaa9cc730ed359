"""``musictag train RECIPE``: train (or cross-validate) what a recipe describes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from musictag.data import open_dataset
from musictag.errors import ParameterError
from musictag.evaluation.report import write_report
from musictag.inference.tagger import Tagger
from musictag.training.crossval import cross_validate_transfer
from musictag.training.recipe import load_recipe
from musictag.training.transfer import TransferSettings, track_embeddings, train_transfer
from musictag.utils.atomic import atomic_open

KINDS = ("transfer",)


def add_parser(commands) -> None:
    parser = commands.add_parser("train", help="train or cross-validate the model a YAML recipe describes")
    parser.add_argument("recipe", metavar="RECIPE.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe setting, e.g. --set data=gtzan:DIR --set transfer.hop=3",
    )
    parser.add_argument("--folds", type=int, help="k-fold cross-validation instead of the data set's splits")
    parser.add_argument("--output", "-o", metavar="DIR", help="run folder (default: runs/<recipe name>)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")  # fmt: skip
    parser.set_defaults(run=run)


def _settings(recipe: dict) -> TransferSettings:
    values = recipe.get("transfer", {}) or {}
    unknown = set(values) - set(TransferSettings.__dataclass_fields__)
    if unknown:
        raise ParameterError(f"unknown transfer settings: {', '.join(sorted(unknown))}")
    return TransferSettings(**values)


def run(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.overrides)
    if recipe["kind"] not in KINDS:
        raise ParameterError(f"recipe kind {recipe['kind']!r} cannot be trained by this version (available: "
                             f"{', '.join(KINDS)})")  # fmt: skip
    dataset = open_dataset(recipe["data"])
    settings = _settings(recipe)
    out = Path(args.output or recipe.get("output") or Path("runs") / recipe["name"])
    folds = args.folds if args.folds is not None else int(recipe.get("folds", 0) or 0)
    embeddings = track_embeddings(dataset.items, settings)  # the frozen backbone runs once per track
    if folds:
        seed = int(recipe.get("seed", 0))
        result = cross_validate_transfer(dataset, settings, folds=folds, seed=seed, embeddings=embeddings)
        result.update(name=recipe["name"], data=recipe["data"], recipe=recipe)
        with atomic_open(out / "cv.json") as handle:
            json.dump(result, handle, indent=2)
        stats = result["summary"][result["headline"]]
        print(f"{recipe['name']}: {folds}-fold {result['headline']} {stats['mean']:.4f} ± {stats['std']:.4f} -> {out}")
        items = dataset.items  # the final model learns from everything
    else:
        items = [item for item in dataset.items if item.split in ("train", "valid")] or dataset.items
    model_dir = train_transfer(dataset, items, settings, out / "model", embeddings=embeddings, name=recipe["name"])
    print(f"model: {model_dir}")
    test = [item for item in dataset.items if item.split == "test"]
    if not folds and test:
        from musictag.cli.evaluate import evaluate_items

        metrics = evaluate_items(Tagger(model_dir), dataset, test)
        write_report(metrics, out / "test", title=f"{recipe['name']} on {recipe['data']} (test)")
        print(f"test: {metrics.get('accuracy', metrics.get('roc_auc')):.4f} -> {out / 'test'}")
    return 0
