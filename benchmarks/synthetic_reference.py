"""`synthetic-genre` (synthetic clips alone) scored on real tracks it never heard: without real music, with
real music's statistics (`transfer.reference`), and with self-training on it (`transfer.pseudo_labels`).

    python benchmarks/synthetic_reference.py SYNTH_MANIFEST ../shared/data/gtzan_mini \\
        [--lists ../shared/data/splits/gtzan_artist_3fold] [--out runs/synthetic-reference] [--set KEY=VALUE]

Splits of the real tracks: in halves by track number (00000-00004 and 00005-00009 of every genre), each
way; and the artist-disjoint 3 folds (the reference is a fold's training tracks, the score is on its
held-out tracks, by other artists). No real label is read but the scored tracks'. Each model is
fitted as ``musictag train synthetic-genre --set data=SYNTH_MANIFEST --set
transfer.reference=manifest:OUT/SPLIT/reference.csv [--set transfer.pseudo_labels=0]`` fits it (the
clips' embeddings computed once and shared) and scored as ``musictag evaluate MODEL --data
manifest:OUT/SPLIT/test.csv --split all --excerpts 2-3 --excerpts-per-item 8`` scores it; the
manifests stay in ``--out`` for those commands. Prints accuracy on whole tracks and on excerpts.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import replace
from pathlib import Path

import numpy as np

from musictag.data.load import open_dataset
from musictag.evaluation.scoring import Excerpts, evaluate_items
from musictag.inference.tagger import Tagger
from musictag.studies.synthetic_to_real import fold_pairs
from musictag.training.fit_head import embed_tracks, reference_rows, train_transfer
from musictag.training.recipe import Recipe

SETTINGS = ("no reference", "reference", "reference + self-training")  # the last is the recipe as shipped


def write_manifest(path: Path, items: list) -> None:
    """A manifest of ``items`` (absolute paths, so it reads from anywhere)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "labels"])
        writer.writerows([str(Path(item.path).resolve()), item.labels[0]] for item in items)


def main() -> None:
    """Fit and score every setting on every split, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("synth", help="the synthetic clips' manifest (musictag synth audio)")
    parser.add_argument("real", help="a GTZAN-layout folder of real tracks (e.g. ../shared/data/gtzan_mini)")
    parser.add_argument("--lists", default="../shared/data/splits/gtzan_artist_3fold", help="artist-filtered lists")
    parser.add_argument("--out", default="runs/synthetic-reference", help="models and manifests")
    parser.add_argument("--set", action="append", default=[], dest="overrides", help="a recipe setting, as in train")
    args = parser.parse_args()
    out = Path(args.out)
    recipe = Recipe.load("synthetic-genre", [f"data={args.synth}", *args.overrides])
    clips = open_dataset(recipe.data)
    training = [item for item in clips.items if item.split != "test"]
    samples = embed_tracks(training, recipe.settings, quiet=False)  # once, for every split and setting

    real = open_dataset(f"gtzan:{args.real}")
    number = {item.id: int(item.id.rsplit(".", 1)[-1]) for item in real.items}
    low = [item for item in real.items if number[item.id] < 5]
    high = [item for item in real.items if number[item.id] >= 5]
    splits = {"halves, reference 00000-04": (low, high), "halves, reference 00005-09": (high, low)}
    _, pairs = fold_pairs(f"gtzan:{args.real}?groups=artist&lists={args.lists}", 3)
    splits.update({f"artist fold {k}": pair for k, pair in enumerate(pairs)})

    excerpts = Excerpts(2.0, 3.0, 8)
    print(f"{recipe.name} on {len(training)} clips ({args.synth}); accuracy on whole tracks / {excerpts.describe()}")
    print(f"| split | scored tracks | {' | '.join(SETTINGS)} |\n|---|---|{'---|' * len(SETTINGS)}")
    totals: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for n, (name, (reference, test)) in enumerate(splits.items()):
        folder = out / f"split{n}"
        write_manifest(folder / "reference.csv", reference)
        write_manifest(folder / "test.csv", test)
        scored = open_dataset(f"manifest:{folder / 'test.csv'}")
        with_reference = replace(recipe.settings, reference=f"manifest:{folder / 'reference.csv'}")
        rows = reference_rows(with_reference)
        cells = []
        variants = (recipe.settings, replace(with_reference, pseudo_labels=0.0), with_reference)  # as SETTINGS
        for setting, settings in zip(SETTINGS, variants, strict=True):
            model = train_transfer(
                clips,
                training,
                settings,
                folder / setting.replace(" ", "").replace("+", "-"),
                samples=samples,
                reference=rows if settings.reference else None,
                name=recipe.name,
            )
            metrics = evaluate_items(Tagger(model), scored, scored.items, excerpts=excerpts)
            totals[setting].append(metrics["excerpt_accuracy"])
            cells.append(f"{metrics['accuracy']:.3f} / {metrics['excerpt_accuracy']:.3f}")
        print(f"| {name} | {len(scored.items)} | {' | '.join(cells)} |", flush=True)
    print(f"| mean on excerpts | | {' | '.join(f'{np.mean(v):.3f}' for v in totals.values())} |")


if __name__ == "__main__":
    main()
