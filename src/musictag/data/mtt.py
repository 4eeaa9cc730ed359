"""MagnaTagATune: 25,863 clips, 188 tags, the top-N tag subsets and the usual splits.

``annotations_final.csv`` is tab-separated with every field in double quotes: ``clip_id``,
188 tag columns of 0/1, ``mp3_path``. Splits:

* ``folders``: sub-folders ``0``-``b`` train, ``c`` valid, ``d``-``f`` test (the usual convention);
* ``index``: musicnn's index and ground-truth files (``index_mtt.tsv``, ``train_gt_mtt.tsv``,
  ``val_gt_mtt.tsv``, ``test_gt_mtt.tsv``: ``clip_id<TAB>...``); clips in none of the ground-truth
  files are train when ``train_gt_mtt.tsv`` is absent;
* ``random``: seeded, ``sizes`` clips for train and valid (18000/2000 as in the multi-scale
  CNN paper), the rest test.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from musictag.data.dataset import Dataset, Item
from musictag.data.splits import random_split_sizes
from musictag.errors import ParameterError

#: Synonymous tags merged as in the multi-scale CNN paper (after keunwoochoi/magnatagatune-list);
#: the first name of each group is kept.
SYNONYMS = (
    ("beat", "beats"),
    ("chant", "chanting"),
    ("choir", "choral"),
    ("classical", "clasical", "classic"),
    ("drum", "drums"),
    ("electro", "electronic", "electronica", "electric"),
    ("fast", "fast beat", "quick"),
    ("female", "female singer", "female singing", "female vocals", "female voice", "woman", "woman singing", "women"),
    ("flute", "flutes"),
    ("guitar", "guitars"),
    ("hard", "hard rock"),
    ("harpsichord", "harpsicord"),
    ("heavy", "heavy metal", "metal"),
    ("horn", "horns"),
    ("india", "indian"),
    ("jazz", "jazzy"),
    ("male", "male singer", "male vocal", "male vocals", "male voice", "man", "man singing", "men"),
    ("no beat", "no drums"),
    ("no singer", "no singing", "no vocal", "no vocals", "no voice", "no voices", "instrumental"),
    ("opera", "operatic"),
    ("orchestra", "orchestral"),
    ("quiet", "silence"),
    ("singer", "singing"),
    ("space", "spacey"),
    ("string", "strings"),
    ("synth", "synthesizer"),
    ("violin", "violins"),
    ("vocal", "vocals", "voice", "voices"),
    ("strange", "weird"),
)
SPLIT_SCHEMES = ("folders", "index", "random")
_FOLDER_SPLITS = {**dict.fromkeys("0123456789ab", "train"), "c": "valid", **dict.fromkeys("def", "test")}


def read_annotations(path: str | Path) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """(clip ids, mp3 paths, tag names, 0/1 matrix clips x tags) from ``annotations_final.csv``."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quotechar='"'))
    if not rows or rows[0][0] != "clip_id" or rows[0][-1] != "mp3_path":
        raise ParameterError(f"{path}: not a MagnaTagATune annotations file (expected clip_id ... mp3_path columns)")
    header, body = rows[0], [r for r in rows[1:] if r]
    try:
        matrix = np.array([[int(v) for v in r[1:-1]] for r in body], dtype=np.uint8).reshape(len(body), -1)
    except ValueError as exc:
        raise ParameterError(f"{path}: tag columns must hold 0 or 1 ({exc})") from None
    return [r[0] for r in body], [r[-1] for r in body], header[1:-1], matrix


def merge_synonyms(tags: list[str], matrix: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Merge each synonym group into its first name (logical OR), keeping the other tags."""
    index = {tag: i for i, tag in enumerate(tags)}
    merged_into: dict[str, str] = {}
    for group in SYNONYMS:
        present = [t for t in group if t in index]
        for t in present:
            merged_into[t] = group[0]
    names: list[str] = []
    columns: list[np.ndarray] = []
    position: dict[str, int] = {}
    for tag in tags:
        name = merged_into.get(tag, tag)
        if name not in position:
            position[name] = len(names)
            names.append(name)
            columns.append(matrix[:, index[tag]].copy())
        else:
            columns[position[name]] |= matrix[:, index[tag]]
    return names, np.stack(columns, axis=1) if columns else matrix[:, :0]


def top_tags(tags: list[str], matrix: np.ndarray, n: int) -> list[str]:
    """The ``n`` most frequent tags, most frequent first (ties keep the file's column order)."""
    counts = matrix.sum(axis=0)
    order = sorted(range(len(tags)), key=lambda i: (-int(counts[i]), i))
    return [tags[i] for i in order[:n]]


def _read_ids(path: Path) -> list[str]:
    return [line.split("\t", 1)[0].strip() for line in path.read_text().splitlines() if line.strip()]


def load_mtt(
    root: str | Path,
    *,
    split: str = "folders",
    top: int = 50,
    merge: bool = False,
    index: str | Path | None = None,
    sizes: tuple[int, int] = (18000, 2000),
    seed: int = 0,
) -> Dataset:
    """Read MagnaTagATune from ``root`` (holding ``annotations_final.csv`` and the mp3 folders).

    ``merge`` applies :data:`SYNONYMS` before choosing the ``top`` tags. Empty or missing mp3
    files are reported in ``problems`` and left out.
    """
    root = Path(root)
    if split not in SPLIT_SCHEMES:
        raise ParameterError(f"unknown MagnaTagATune split {split!r}; choose from {', '.join(SPLIT_SCHEMES)}")
    annotations = root / "annotations_final.csv" if root.is_dir() else root
    if not annotations.is_file():
        raise ParameterError(f"{root}: no annotations_final.csv")
    ids, mp3s, tags, matrix = read_annotations(annotations)
    if merge:
        tags, matrix = merge_synonyms(tags, matrix)
    vocabulary = top_tags(tags, matrix, top)
    columns = [tags.index(t) for t in vocabulary]
    audio_root = (
        next(
            (r for r in (annotations.parent, annotations.parent / "mp3") if (r / mp3s[0]).exists()), annotations.parent
        )
        if mp3s
        else annotations.parent
    )

    if split == "folders":
        splits = [_FOLDER_SPLITS.get(p.split("/", 1)[0]) for p in mp3s]
    elif split == "random":
        splits = random_split_sizes(len(ids), sizes, seed=seed)
    else:
        if index is None:
            raise ParameterError("split=index needs index=DIR, a folder with musicnn's *_gt_mtt.tsv files")
        by_id: dict[str, str] = {}
        for name, split_name in (
            ("train_gt_mtt.tsv", "train"),
            ("val_gt_mtt.tsv", "valid"),
            ("test_gt_mtt.tsv", "test"),
        ):
            if (Path(index) / name).is_file():
                by_id.update(dict.fromkeys(_read_ids(Path(index) / name), split_name))
        if not by_id:
            raise ParameterError(f"{index}: no train/val/test_gt_mtt.tsv files")
        has_train = (Path(index) / "train_gt_mtt.tsv").is_file()
        splits = [by_id.get(cid, None if has_train else "train") for cid in ids]

    items, problems = [], []
    for row, (cid, mp3, split_name) in enumerate(zip(ids, mp3s, splits, strict=True)):
        path = audio_root / mp3
        if not path.is_file():
            problems.append(f"{path}: missing (clip {cid})")
            continue
        if path.stat().st_size == 0:
            problems.append(f"{path}: empty file (clip {cid})")
            continue
        labels = tuple(vocabulary[j] for j, col in enumerate(columns) if matrix[row, col])
        group = mp3.split("/")[-1].rsplit("-", 2)[0]  # "artist-album-track" prefix, shared by a song's clips
        items.append(Item(id=cid, path=path, labels=labels, split=split_name, group=group))
    return Dataset(f"mtt:{split}:top{top}{':merged' if merge else ''}", "multi-label", vocabulary, items, problems)
