"""``musictag experiment synthetic``: all six modes on every fold, one comparison table.

The source-only model is trained once; every other mode is trained per fold of the target
(the artist-filtered 3 folds of full GTZAN, or stratified K-fold) and scored on the fold's
held-out real tracks. Folders of finished (mode, fold) pairs are reused, so a killed
experiment resumes. Writes ``results.md`` / ``results.json`` (mean ± std per mode), a
confusion matrix per mode (summed over folds) and t-SNE plots of the penultimate features
with and without DA.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np

from musictag.data.dataset import Dataset
from musictag.data.load import open_dataset
from musictag.data.splits import kfold_pairs
from musictag.errors import ParameterError
from musictag.evaluation.scoring import Excerpts, evaluate_items
from musictag.inference.tagger import Tagger
from musictag.plots import confusion_png, embedding_png
from musictag.training.crossval import summarise
from musictag.training.modes import train_mode, trained_source_model
from musictag.training.neural import train_once
from musictag.training.recipe import MODES, Recipe
from musictag.training.runner import held_out_by
from musictag.training.settings import NeuralSettings
from musictag.utils.atomic import atomic_open
from musictag.utils.progress import report


def fold_pairs(target_spec: str, folds: str | int, *, seed: int = 0) -> tuple[Dataset, list[tuple[list, list]]]:
    """The target and its (train, test) item lists per fold: GTZAN's three artist-filtered folds
    (``folds='artist3'``; the spec names the split lists with ``lists=DIR``) or stratified K-fold."""
    if str(folds) == "artist3":
        joiner = "&" if "?" in target_spec else "?"
        pairs, target = [], None
        for fold in (1, 2, 3):
            target = open_dataset(f"{target_spec}{joiner}split=artist3&fold={fold}")
            pairs.append((target.subset("train"), target.subset("test")))
        return target, pairs
    target = open_dataset(target_spec)
    items = [item for item in target.items if item.path is not None]
    return target, kfold_pairs(items, int(folds), task=target.task, seed=seed)


def run_experiment(
    recipe: Recipe,
    *,
    source: str,
    target: str,
    folds: str | int,
    out: str | Path,
    modes: tuple[str, ...] = MODES,
    seed: int = 0,
    quiet: bool = True,
    excerpts: Excerpts | None = None,
) -> dict:
    """The synthetic-data study: every mode on every fold (:func:`run_synthetic`), with ``recipe``'s
    neural settings, then t-SNE plots of fold 1's ``both`` and ``DA`` models (``embeddings.png``)."""
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ParameterError(f"unknown modes {', '.join(sorted(unknown))}; choose from {', '.join(MODES)}")
    if recipe.kind != "neural":
        raise ParameterError(f"{recipe.source}: the synthetic study trains a neural recipe, not {recipe.kind}")
    source_data = open_dataset(source)
    target_data, pairs = fold_pairs(target, folds, seed=seed)
    out = Path(out)
    result = run_synthetic(
        source_data, target_data, pairs, recipe.settings, out, modes=modes, quiet=quiet, excerpts=excerpts
    )
    plots = {name: out / "fold1" / name / "model" for name in ("both", "DA") if name in modes}
    if plots:
        embedding_plot(plots, source_data, target_data, out / "embeddings.png", seed=seed)
    return result


def run_synthetic(
    source: Dataset,
    target: Dataset,
    pairs: list[tuple[list, list]],
    settings: NeuralSettings,
    out: str | Path,
    *,
    modes: tuple[str, ...] = MODES,
    quiet: bool = True,
    excerpts: Excerpts | None = None,
) -> dict:
    """Train and score every mode on every (train, test) fold of the target."""
    out = Path(out)
    folds = len(pairs)
    source_run = out / "src_only"
    if any(m in modes for m in ("src_only", "TL", "FT")):
        trained_source_model(source=source, target=target, settings=settings, run=source_run, quiet=quiet)
    per_mode: dict[str, list[dict]] = {mode: [] for mode in modes}
    for fold, (train, test) in enumerate(pairs):
        for mode in modes:
            folder = source_run if mode == "src_only" else out / f"fold{fold + 1}" / mode
            model = train_once(
                folder,
                partial(
                    train_mode,
                    mode,
                    source=source,
                    target=target,
                    train=train,
                    settings=settings,
                    out=folder,
                    source_model=source_run / "model",
                    name=f"{mode} fold {fold + 1}",
                    quiet=quiet,
                ),
            )
            metrics = evaluate_items(Tagger(model), target, test, excerpts=excerpts)
            per_mode[mode].append(metrics)
            report(f"musictag: fold {fold + 1}/{folds} {mode}: accuracy {metrics['accuracy']:.3f}")
    result = {
        "folds": folds,
        "held_out": held_out_by(target),
        "source": source.name,
        "target": target.name,
        "modes": {mode: summarise(runs) for mode, runs in per_mode.items()},
        "per_fold": {mode: [r["accuracy"] for r in runs] for mode, runs in per_mode.items()},
        "excerpts": excerpts.describe() if excerpts else None,
    }
    with atomic_open(out / "results.json") as handle:
        json.dump(result, handle, indent=2)
    with atomic_open(out / "results.md") as handle:
        handle.write(table(result))
    for mode, runs in per_mode.items():
        confusion_png(_summed_confusion(runs), target.vocabulary, out / f"confusion-{mode}.png")
    return result


def _summed_confusion(runs: list[dict]) -> list[list[int]]:
    return np.sum([np.array(r["confusion"]) for r in runs], axis=0).tolist()


def table(result: dict) -> str:
    """The study's results as a Markdown table: each mode's figures over the folds."""
    folds = f"{result['folds']} {result.get('held_out', 'track')}-disjoint folds"
    header = f"Synthetic ({result['source']}) to real ({result['target']}), {folds}\n"
    keys = [
        ("excerpt_accuracy", f"excerpt accuracy ({result.get('excerpts', '')})"),  # the closest to a new clip
        ("accuracy", "accuracy (whole tracks)"),
        ("balanced_accuracy", "balanced accuracy"),
        ("macro_f1", "macro F1"),
    ]
    keys = [(key, title) for key, title in keys if all(key in stats for stats in result["modes"].values())]
    lines = [header, "| mode | " + " | ".join(title for _, title in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for mode, stats in result["modes"].items():
        cells = [f"{stats[k]['mean']:.3f} ± {stats[k]['std']:.3f}" for k, _ in keys]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def embedding_plot(
    models: dict[str, Path], source: Dataset, target: Dataset, path: Path, *, per_source: int = 200, seed: int = 0
) -> None:
    """t-SNE of the penultimate features of target tracks and a sample of source clips, one panel per
    model: colour = genre, marker = domain."""
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    sample = [source.items[i] for i in rng.permutation(len(source.items))[:per_source]]
    items = [("real", item) for item in target.items] + [("synthetic", item) for item in sample]
    panels = {}
    for title, folder in models.items():
        results = Tagger(folder).embed_many([item.path for _, item in items], layer="penultimate")
        vectors = [result.embedding for result in results]
        perplexity = min(20.0, (len(vectors) - 1) / 3)
        points = TSNE(perplexity=perplexity, random_state=seed, init="pca").fit_transform(np.stack(vectors))
        panels[title] = (points, [item.labels[0] for _, item in items], [domain for domain, _ in items])
    embedding_png(panels, target.vocabulary, path)
