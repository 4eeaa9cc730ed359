"""GTZAN: 1000 30-second clips in ten genres, with the splits the literature uses.

Files are matched by stem (``blues.00029``), so ``genres/``, ``genres_original/``, ``.au``
originals, ``.wav`` or ``.flac`` copies and flat folders all work. Split lists:

* ``fault-filtered``: ``train_filtered.txt``, ``valid_filtered.txt``, ``test_filtered.txt``
  (lines like ``blues/blues.00029.wav``), the split of Kereliuk et al. / Sturm;
* ``artist3``: ``f{N}_train.txt`` and ``f{N}_evaluate.txt`` (lines ``./blues_00000.wav<TAB>blues``)
  with their ``*_groups.txt`` artist ids; ``evaluate`` is the test split of fold N;
* ``random``: seeded, stratified, with given fractions (80/10/10 by default);
* ``none``: every clip unassigned (for k-fold cross-validation).
"""

from __future__ import annotations

import re
from pathlib import Path

from musictag.audio.decode import AUDIO_EXTENSIONS
from musictag.audio.discover import find_audio
from musictag.data.dataset import Dataset, Item
from musictag.data.splits import stratified_split
from musictag.errors import ParameterError

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
_STEM = re.compile(rf"^({'|'.join(GENRES)})[._](\d{{5}})$")
SPLIT_SCHEMES = ("none", "fault-filtered", "artist3", "random")


def clip_id(name: str) -> str | None:
    """``blues/blues.00029.wav``, ``./blues_00029.wav`` or ``blues.00029`` -> ``blues.00029``."""
    stem = Path(name.strip()).name
    for ext in AUDIO_EXTENSIONS:
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    match = _STEM.match(stem)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def find_clips(root: Path) -> tuple[dict[str, Path], list[Path]]:
    """Every GTZAN clip under ``root`` by id (the first file found wins for duplicate stems), and the
    audio files whose names are not GTZAN clip names."""
    found: dict[str, Path] = {}
    other = []
    for path in map(Path, find_audio([root], recursive=True)):
        cid = clip_id(path.name)
        if cid is None:
            other.append(path)
        elif cid not in found:
            found[cid] = path
    return found, other


def _read_list(path: Path) -> list[tuple[str, str | None]]:
    """(clip id, second column or None) per non-empty line of a split list."""
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        first, _, second = line.partition("\t")
        cid = clip_id(first)
        if cid is None:
            raise ParameterError(f"{path}: cannot read a GTZAN clip name from line {line!r}")
        rows.append((cid, second.strip() or None))
    return rows


def _find_list(lists: Path | None, name: str) -> Path:
    if lists is None:
        raise ParameterError(f"this split needs its list files: pass lists=DIR (a folder with {name})")
    for candidate in (lists / name, *lists.glob(f"*/{name}")):
        if candidate.is_file():
            return candidate
    raise ParameterError(f"{lists}: no {name} here or in its sub-folders")


def load_gtzan(
    root: str | Path,
    *,
    split: str = "none",
    lists: str | Path | None = None,
    fold: int = 1,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    artists: bool = False,
) -> Dataset:
    """Read a GTZAN folder with one of :data:`SPLIT_SCHEMES`.

    Clips named by a split list but absent on disk are reported in ``problems`` and left out.
    With ``artists`` (``groups=artist`` in the SPEC), every clip's group is its artist, read from the
    artist-filtered lists' ``*_groups.txt`` in ``lists``: cross-validation then holds out artists.
    """
    root = Path(root)
    if split not in SPLIT_SCHEMES:
        raise ParameterError(f"unknown GTZAN split {split!r}; choose from {', '.join(SPLIT_SCHEMES)}")
    if not root.is_dir():
        raise ParameterError(f"{root}: GTZAN folder not found")
    clips, other = find_clips(root)
    lists = Path(lists) if lists is not None else None
    assignment: dict[str, str] = {}
    groups: dict[str, str] = {}
    if split == "fault-filtered":
        for name, split_name in (("train", "train"), ("valid", "valid"), ("test", "test")):
            for cid, _ in _read_list(_find_list(lists, f"{name}_filtered.txt")):
                assignment[cid] = split_name
    elif split == "artist3":
        if fold not in (1, 2, 3):
            raise ParameterError(f"artist3 has folds 1, 2 and 3, got {fold}")
        for part, split_name in (("train", "train"), ("evaluate", "test")):
            for cid, _ in _read_list(_find_list(lists, f"f{fold}_{part}.txt")):
                assignment[cid] = split_name
            for cid, group in _read_list(_find_list(lists, f"f{fold}_{part}_groups.txt")):
                groups[cid] = group
    if artists:
        for number in (1, 2, 3):
            for name in ("train", "evaluate"):
                groups.update(_read_list(_find_list(lists, f"f{number}_{name}_groups.txt")))
    listed = sorted(assignment) if assignment else sorted(clips)
    missing = [cid for cid in listed if cid not in clips]
    if len(missing) > 10:  # e.g. a subset of GTZAN against the full lists: one line, not hundreds
        problems = [
            f"{len(missing)} clips of the {split} split lists have no audio file under {root} "
            f"(e.g. {', '.join(missing[:3])}); left out"
        ]
    else:
        problems = [f"{cid}: listed in the {assignment[cid]} split but no audio file was found" for cid in missing]
    problems += [f"{path}: not a GTZAN clip name (genre.000NN), left out" for path in other]
    if assignment:
        problems += [
            f"{clips[cid]}: in no {split} split list, left out" for cid in sorted(set(clips) - set(assignment))
        ]
    items = [
        Item(id=cid, path=clips[cid], labels=(cid.split(".")[0],), split=assignment.get(cid), group=groups.get(cid))
        for cid in listed
        if cid in clips
    ]
    scheme = {"none": "", "artist3": f" (artist3 fold {fold})"}.get(split, f" ({split})")
    dataset = Dataset(f"gtzan:{root.name}{scheme}", "single-label", list(GENRES), items, problems)
    if split == "random":
        dataset = dataset.with_splits(stratified_split(items, fractions, seed=seed))
    return dataset
