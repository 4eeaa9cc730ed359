"""Run a recipe: the one place that decides what trains, what validates, what is tested and reported.

:func:`run_recipe` dispatches on the recipe's kind through :data:`RUNNERS` (each runner turns a
recipe into a trained model folder, a cross-validation record, or both), applies the split policy
(a data set's ``train`` split trains, ``valid`` picks the epoch, ``test`` is scored into
``<run>/test``; without splits, everything trains) and writes ``cv.json`` for ``--folds K``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from musictag.data.dataset import Dataset, Item
from musictag.data.load import open_dataset
from musictag.errors import ParameterError
from musictag.evaluation.report import write_report
from musictag.evaluation.scoring import Excerpts, evaluate_items
from musictag.inference.tagger import Tagger
from musictag.training.recipe import Recipe
from musictag.utils.atomic import atomic_open


@dataclass
class RunOptions:
    """How to run a recipe, from the command line: none of these change what the recipe describes."""

    folds: int | None = None  # k-fold cross-validation instead of the data set's splits (default: the recipe's)
    output: str | os.PathLike | None = None  # run folder (default: the recipe's output, else runs/<name>)
    quiet: bool = False
    mode: str | None = None  # a synthetic-to-real strategy (neural recipes; the recipe's data is the real target)
    source: str | None = None  # the synthetic clips' manifest, with ``mode``
    source_model: str | os.PathLike | None = None  # TL/FT: the src_only model folder
    excerpts: Excerpts | None = field(default_factory=Excerpts)  # also scored in CV and test reports (single-label)
    accelerator: str | None = None  # Lightning's distributed-training options (neural recipes)
    devices: str | None = None
    num_nodes: int | None = None
    strategy: str | None = None


@dataclass
class RunResult:
    """What a run produced: its folder, and a model folder, a cross-validation record and test metrics
    where there are some. ``main_process`` is False in the extra processes of a distributed run."""

    name: str
    out: Path
    model: Path | None = None
    cv: dict | None = None
    test: dict | None = None
    main_process: bool = True
    data: str = ""  # the data set and how it was read
    fit: dict | None = None  # what the final fit chose and reached (the model's config.json "fit")


def training_items(dataset: Dataset) -> list[Item]:
    """The items a model learns from: the ``train`` split, else every item not held out for valid or test."""
    return dataset.subset("train") or [item for item in dataset.items if item.split not in ("valid", "test")]


def is_main_process() -> bool:
    """False in the extra processes a distributed launcher starts (they must not write reports)."""
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


def held_out_by(dataset: Dataset) -> str:
    """What cross-validation folds keep apart: ``artist`` where the items have groups (artists), else
    ``track``. Artist-disjoint folds are the closer proxy to new music: a model that heard other tracks
    of an artist recognises the artist's sound, not only the genre."""
    return "artist" if any(item.group is not None for item in dataset.items) else "track"


def _write_cv(result: dict, recipe: Recipe, out: Path, dataset: Dataset) -> dict:
    result.update(name=recipe.name, data=recipe.data, recipe=recipe.values, held_out=held_out_by(dataset))
    with atomic_open(out / "cv.json") as handle:
        json.dump(result, handle, indent=2)
    return result


def _excerpts(dataset: Dataset, options: RunOptions) -> Excerpts | None:
    """Excerpts are scored for classifiers (a multi-label tag set has no one answer per excerpt)."""
    return options.excerpts if dataset.task == "single-label" else None


def _test(recipe: Recipe, dataset: Dataset, model: Path, out: Path, options: RunOptions) -> dict | None:
    """Score the model on the data set's test split, if it has one, into ``out/test``."""
    test = dataset.subset("test")
    if not test:
        return None
    metrics = evaluate_items(Tagger(model), dataset, test, excerpts=_excerpts(dataset, options))
    write_report(metrics, out / "test", title=f"{recipe.name} on {recipe.data} (test)")
    return metrics


def _run_transfer(recipe: Recipe, dataset: Dataset, options: RunOptions, out: Path, folds: int) -> RunResult:
    from musictag.training.fit_head import (
        cross_validate_transfer,
        embed_tracks,
        extra_rows,
        reference_rows,
        train_transfer,
    )

    reference = reference_rows(recipe.settings, quiet=options.quiet)  # first: a reference without audio fails at once
    samples = embed_tracks(dataset.items, recipe.settings, quiet=options.quiet)  # the backbones run once per track
    extra = extra_rows(recipe.settings, dataset.vocabulary, quiet=options.quiet)
    result = RunResult(recipe.name, out)
    if folds:
        cv = cross_validate_transfer(
            dataset,
            recipe.settings,
            folds=folds,
            seed=recipe.seed,
            samples=samples,
            excerpts=_excerpts(dataset, options),
            extra=extra,
            reference=reference,
        )
        result.cv = _write_cv(cv, recipe, out, dataset)
        items = dataset.items  # the final model learns from everything
    else:  # nothing to choose by validation: train and valid both train
        items = [item for item in dataset.items if item.split != "test"]
    result.model = train_transfer(
        dataset,
        items,
        recipe.settings,
        out / "model",
        samples=samples,
        extra=extra,
        reference=reference,
        name=recipe.name,
    )
    if not folds:
        result.test = _test(recipe, dataset, result.model, out, options)
    return result


def _run_classical(recipe: Recipe, dataset: Dataset, options: RunOptions, out: Path, folds: int) -> RunResult:
    from musictag.training.classical import cross_validate_classical, track_descriptors, train_classical

    descriptors = track_descriptors(dataset.items, recipe.settings, quiet=options.quiet)
    result = RunResult(recipe.name, out)
    if folds:
        cv = cross_validate_classical(
            dataset,
            recipe.settings,
            folds=folds,
            seed=recipe.seed,
            excerpts=_excerpts(dataset, options),
            descriptors=descriptors,
        )
        result.cv = _write_cv(cv, recipe, out, dataset)
    items = dataset.items if folds else [item for item in dataset.items if item.split != "test"]
    result.model = train_classical(
        dataset, items, recipe.settings, out / "model", descriptors=descriptors, name=recipe.name
    )
    if not folds:
        result.test = _test(recipe, dataset, result.model, out, options)
    return result


def _neural_settings(recipe: Recipe, options: RunOptions):
    """The recipe's neural settings with the command line's distributed-training options."""
    changes = {}
    for option in ("accelerator", "devices", "num_nodes", "strategy"):
        value = getattr(options, option)
        if value is not None:
            changes[option] = int(value) if option == "devices" and str(value).isdigit() else value
    return replace(recipe.settings, **changes)


def _run_neural(recipe: Recipe, dataset: Dataset, options: RunOptions, out: Path, folds: int) -> RunResult:
    from musictag.training.neural import cross_validate_neural, train_neural

    settings = _neural_settings(recipe, options)
    result = RunResult(recipe.name, out, main_process=is_main_process())
    if folds:
        cv = cross_validate_neural(
            dataset,
            settings,
            out,
            folds=folds,
            seed=recipe.seed,
            name=recipe.name,
            quiet=options.quiet,
            excerpts=_excerpts(dataset, options),
        )
        if result.main_process:
            result.cv = _write_cv(cv, recipe, out, dataset)
        return result
    result.model = train_neural(
        dataset,
        settings,
        out,
        train=training_items(dataset),
        valid=dataset.subset("valid"),
        name=recipe.name,
        quiet=options.quiet,
    )
    if result.main_process:
        result.test = _test(recipe, dataset, result.model, out, options)
    return result


def _run_mode(recipe: Recipe, target: Dataset, options: RunOptions, out: Path) -> RunResult:
    """One synthetic-to-real strategy: the source manifest and the recipe's (real) data set."""
    from musictag.training.modes import train_mode, trained_source_model

    if recipe.kind != "neural" or not options.source:
        raise ParameterError("--mode trains a neural recipe and needs --source MANIFEST (the synthetic clips)")
    settings = _neural_settings(recipe, options)
    source = open_dataset(options.source)
    source_model = Path(options.source_model) if options.source_model else None
    if options.mode in ("TL", "FT") and source_model is None:
        source_model = trained_source_model(
            source=source,
            target=target,
            settings=settings,
            run=out.parent / "src_only",
            name=f"{recipe.name} src_only",
            quiet=options.quiet,
        )
    result = RunResult(recipe.name, out, main_process=is_main_process())
    result.model = train_mode(
        options.mode,
        source=source,
        target=target,
        train=training_items(target),
        valid=target.subset("valid") or None,
        settings=settings,
        out=out,
        source_model=source_model,
        name=f"{recipe.name} {options.mode}",
        quiet=options.quiet,
    )
    if result.main_process:
        result.test = _test(recipe, target, result.model, out, options)
    return result


#: How each kind of recipe runs (as audiocraft's ``get_solver`` picks a solver by name).
RUNNERS: dict[str, Callable[[Recipe, Dataset, RunOptions, Path, int], RunResult]] = {
    "neural": _run_neural,
    "transfer": _run_transfer,
    "classical": _run_classical,
}


def run_recipe(recipe: Recipe, options: RunOptions | None = None) -> RunResult:
    """Train (or cross-validate) what ``recipe`` describes; see the module docstring."""
    options = options or RunOptions()
    dataset = open_dataset(recipe.data)
    folds = options.folds if options.folds is not None else recipe.folds
    if options.mode:
        out = Path(options.output or Path("runs") / recipe.name / options.mode)
        result = _run_mode(recipe, dataset, options, out)
    else:
        out = Path(options.output or recipe.output or Path("runs") / recipe.name)
        result = RUNNERS[recipe.kind](recipe, dataset, options, out, folds)
    result.data = f"{dataset.name}: {len(dataset)} items, read as {dataset.layout}"
    if result.model is not None and result.main_process:
        result.fit = json.loads((result.model / "config.json").read_text()).get("info", {}).get("fit")
    return result
