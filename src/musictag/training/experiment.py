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
from pathlib import Path

import numpy as np

from musictag.data import open_dataset
from musictag.data.dataset import Dataset
from musictag.data.splits import stratified_group_kfold
from musictag.evaluation.report import confusion_png
from musictag.evaluation.tagger import evaluate_items
from musictag.inference.tagger import Tagger
from musictag.training.crossval import summarise
from musictag.training.modes import MODES, train_mode, trained_source_model
from musictag.training.neural import is_trained
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
    assignment = stratified_group_kfold(items, int(folds), seed=seed)
    pairs = [([i for i, f in zip(items, assignment, strict=True) if f != k],
              [i for i, f in zip(items, assignment, strict=True) if f == k]) for k in range(int(folds))]  # fmt: skip
    return target, pairs


def run_synthetic(source: Dataset, target: Dataset, pairs: list[tuple[list, list]], settings, out: str | Path, *,
                  modes: tuple[str, ...] = MODES, quiet: bool = True) -> dict:  # fmt: skip
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
            if not is_trained(folder):
                train_mode(mode, source=source, target=target, train=train, settings=settings, out=folder,
                           source_model=source_run / "model", name=f"{mode} fold {fold + 1}",
                           quiet=quiet)  # fmt: skip
                (folder / "checkpoints" / "last.ckpt").unlink(missing_ok=True)
            metrics = evaluate_items(Tagger(folder / "model"), target, test)
            per_mode[mode].append(metrics)
            report(f"musictag: fold {fold + 1}/{folds} {mode}: accuracy {metrics['accuracy']:.3f}")
    result = {"folds": folds, "source": source.name, "target": target.name,
              "modes": {mode: summarise(runs) for mode, runs in per_mode.items()},
              "per_fold": {mode: [r["accuracy"] for r in runs] for mode, runs in per_mode.items()}}  # fmt: skip
    with atomic_open(out / "results.json") as handle:
        json.dump(result, handle, indent=2)
    with atomic_open(out / "results.md") as handle:
        handle.write(table(result))
    for mode, runs in per_mode.items():
        confusion_png(_summed_confusion(runs), out / f"confusion-{mode}.png")
    return result


def _summed_confusion(runs: list[dict]) -> dict:
    total = np.sum([np.array(r["confusion"]) for r in runs], axis=0)
    return {**runs[0], "confusion": total.tolist()}


def table(result: dict) -> str:
    header = f"Synthetic ({result['source']}) to real ({result['target']}), {result['folds']} folds\n"
    lines = [header, "| mode | accuracy | balanced accuracy | macro F1 |", "|---|---|---|---|"]
    for mode, stats in result["modes"].items():
        keys = ("accuracy", "balanced_accuracy", "macro_f1")
        cells = [f"{stats[k]['mean']:.3f} ± {stats[k]['std']:.3f}" for k in keys]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def embedding_plot(models: dict[str, Path], source: Dataset, target: Dataset, path: Path, *, per_source: int = 200,
                   seed: int = 0) -> None:  # fmt: skip
    """t-SNE of the penultimate features of target tracks and a sample of source clips, one panel per
    model: colour = genre, marker = domain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    sample = [source.items[i] for i in rng.permutation(len(source.items))[:per_source]]
    items = [("real", item) for item in target.items] + [("synthetic", item) for item in sample]
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 5), squeeze=False)
    colours = {label: plt.cm.tab10(i % 10) for i, label in enumerate(target.vocabulary)}
    for ax, (title, folder) in zip(axes[0], models.items(), strict=True):
        tagger = Tagger(folder)
        vectors = [r.embedding for r in tagger.embed_many([item.path for _, item in items], layer="penultimate")]
        perplexity = min(20.0, (len(vectors) - 1) / 3)
        points = TSNE(perplexity=perplexity, random_state=seed, init="pca").fit_transform(np.stack(vectors))
        for (domain, item), (px, py) in zip(items, points, strict=True):
            ax.scatter(px, py, color=colours[item.labels[0]], marker="o" if domain == "real" else "^", s=14,
                       alpha=0.9 if domain == "real" else 0.5)  # fmt: skip
        ax.set_title(f"{title}: o real, ^ synthetic")
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="", label=g) for g, c in colours.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=80)
    plt.close(fig)
