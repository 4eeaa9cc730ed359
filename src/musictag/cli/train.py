"""``musictag train RECIPE``: train (or cross-validate) what a recipe describes."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from musictag.data import open_dataset
from musictag.errors import ParameterError
from musictag.evaluation.report import write_report
from musictag.evaluation.tagger import evaluate_items
from musictag.inference.tagger import Tagger
from musictag.training.classical import ClassicalSettings, cross_validate_classical
from musictag.training.crossval import cross_validate_transfer
from musictag.training.modes import MODES, train_mode, trained_source_model
from musictag.training.neural import NeuralSettings, cross_validate_neural, train_neural
from musictag.training.recipe import load_recipe
from musictag.training.transfer import TransferSettings, track_embeddings, train_transfer
from musictag.utils.atomic import atomic_open

KINDS = ("transfer", "classical", "neural")


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
    synthetic = parser.add_argument_group("synthetic to real (neural recipes; the recipe's data is the real target)")
    synthetic.add_argument("--mode", choices=MODES, help="training strategy of the synthetic-data study")
    synthetic.add_argument("--source", metavar="MANIFEST", help="the synthetic clips (a `synth audio` manifest)")
    synthetic.add_argument("--source-model", metavar="DIR", help="TL/FT: the src_only model folder (default: "
                           "the run's sibling src_only, trained first if missing)")  # fmt: skip
    lightning = parser.add_argument_group("distributed training (neural recipes; passed to Lightning)")
    lightning.add_argument("--accelerator", help="cpu, gpu, auto ...")
    lightning.add_argument("--devices", help="devices per node (a number, a list or 'auto')")
    lightning.add_argument("--num-nodes", type=int, dest="num_nodes")
    lightning.add_argument("--strategy", help="auto, ddp, ddp_spawn, fsdp ...")
    parser.set_defaults(run=run)


def _settings(recipe: dict, cls):
    section = recipe["kind"]
    values = recipe.get(section, {}) or {}
    unknown = set(values) - set(cls.__dataclass_fields__)
    if unknown:
        raise ParameterError(f"unknown {section} settings: {', '.join(sorted(unknown))}")
    return cls(**values)


def _write_cv(result: dict, recipe: dict, out: Path) -> None:
    result.update(name=recipe["name"], data=recipe["data"], recipe=recipe)
    with atomic_open(out / "cv.json") as handle:
        json.dump(result, handle, indent=2)
    stats, label = result["summary"][result["headline"]], f"{result['folds']}-fold {result['headline']}"
    print(f"{recipe['name']}: {label} {stats['mean']:.4f} ± {stats['std']:.4f} -> {out}")


def run(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.overrides)
    if recipe["kind"] not in KINDS:
        raise ParameterError(f"recipe kind {recipe['kind']!r} cannot be trained by this version (available: "
                             f"{', '.join(KINDS)})")  # fmt: skip
    dataset = open_dataset(recipe["data"])
    out = Path(args.output or recipe.get("output") or Path("runs") / recipe["name"])
    folds = args.folds if args.folds is not None else int(recipe.get("folds", 0) or 0)
    seed = int(recipe.get("seed", 0))
    if args.mode:
        return _run_mode(recipe, dataset, args, Path(args.output or Path("runs") / recipe["name"] / args.mode))
    if recipe["kind"] == "neural":
        return _run_neural(recipe, dataset, args, out, folds=folds, seed=seed)
    if recipe["kind"] == "classical":
        if not folds:
            raise ParameterError("classical pipelines are evaluated by cross-validation in this version: add --folds K")
        _write_cv(cross_validate_classical(dataset, _settings(recipe, ClassicalSettings), folds=folds, seed=seed),
                  recipe, out)  # fmt: skip
        return 0
    settings = _settings(recipe, TransferSettings)
    embeddings = track_embeddings(dataset.items, settings)  # the frozen backbone runs once per track
    if folds:
        _write_cv(
            cross_validate_transfer(dataset, settings, folds=folds, seed=seed, embeddings=embeddings), recipe, out
        )
        items = dataset.items  # the final model learns from everything
    else:
        items = [item for item in dataset.items if item.split in ("train", "valid")] or dataset.items
    model_dir = train_transfer(dataset, items, settings, out / "model", embeddings=embeddings, name=recipe["name"])
    print(f"model: {model_dir}")
    if not folds:
        _report_test(recipe, dataset, model_dir, out)
    return 0


def _report_test(recipe: dict, dataset, model_dir: Path, out: Path) -> None:
    test = dataset.subset("test")
    if test:
        metrics = evaluate_items(Tagger(model_dir), dataset, test)
        write_report(metrics, out / "test", title=f"{recipe['name']} on {recipe['data']} (test)")
        print(f"test: {metrics.get('accuracy', metrics.get('roc_auc')):.4f} -> {out / 'test'}")


def _neural_settings(recipe: dict, args: argparse.Namespace) -> NeuralSettings:
    """The recipe's neural section with the distributed-training options of the command line."""
    recipe.setdefault("neural", {})
    for option in ("accelerator", "devices", "num_nodes", "strategy"):
        value = getattr(args, option)
        if value is not None:
            recipe["neural"][option] = int(value) if option == "devices" and value.isdigit() else value
    return _settings(recipe, NeuralSettings)


def _target_train(dataset) -> list:
    return dataset.subset("train") or [item for item in dataset.items if item.split not in ("valid", "test")]


def _run_neural(recipe: dict, dataset, args: argparse.Namespace, out: Path, *, folds: int, seed: int) -> int:
    settings = _neural_settings(recipe, args)
    if folds:
        result = cross_validate_neural(dataset, settings, out, folds=folds, seed=seed, name=recipe["name"],
                                       quiet=args.quiet)  # fmt: skip
        if _is_main_process():
            _write_cv(result, recipe, out)
        return 0
    model_dir = train_neural(dataset, settings, out, train=_target_train(dataset), valid=dataset.subset("valid"),
                             name=recipe["name"], quiet=args.quiet)  # fmt: skip
    if _is_main_process():
        print(f"model: {model_dir}")
        _report_test(recipe, dataset, model_dir, out)
    return 0


def _run_mode(recipe: dict, target, args: argparse.Namespace, out: Path) -> int:
    """One synthetic-to-real strategy: the source manifest and the recipe's (real) data set."""
    if recipe["kind"] != "neural" or not args.source:
        raise ParameterError("--mode trains a neural recipe and needs --source MANIFEST (the synthetic clips)")
    settings = _neural_settings(recipe, args)
    source = open_dataset(args.source)
    source_model = Path(args.source_model) if args.source_model else None
    if args.mode in ("TL", "FT") and source_model is None:
        source_model = trained_source_model(source=source, target=target, settings=settings,
                                            run=out.parent / "src_only", name=f"{recipe['name']} src_only",
                                            quiet=args.quiet)  # fmt: skip
    model_dir = train_mode(args.mode, source=source, target=target, train=_target_train(target),
                           valid=target.subset("valid") or None,
                           settings=settings, out=out, source_model=source_model,
                           name=f"{recipe['name']} {args.mode}", quiet=args.quiet)  # fmt: skip
    if _is_main_process():
        print(f"model: {model_dir}")
        _report_test(recipe, target, model_dir, out)
    return 0


def _is_main_process() -> bool:
    """False in the extra processes a distributed launcher starts (they must not write reports)."""
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0
