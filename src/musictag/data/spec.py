"""Open a data set from a SPEC string, ``[kind:]PATH[?key=value&key=value]``::

    gtzan:/data/gtzan/genres?split=fault-filtered&lists=/data/splits/gtzan_fault_filtered
    gtzan:/data/gtzan?split=artist3&fold=2&lists=/data/splits/gtzan_artist_3fold
    gtzan:/data/gtzan?split=random&fractions=0.8,0.1,0.1&seed=0
    mtt:/data/magnatagatune?split=index&index=/data/mtt&top=50
    mtt:/data/magnatagatune?split=random&sizes=18000,2000&merge=true
    folders:/data/my_labels          (a folder per label)
    manifest:/data/labels.csv        (path, labels, split?, group?)
    files:/data/music                (unlabelled audio, e.g. to extract features)

Without a kind, it is guessed: a .csv/.tsv file is a manifest, a folder with
``annotations_final.csv`` is MagnaTagATune, a folder holding GTZAN-named clips is GTZAN,
a folder whose sub-folders hold audio is a folder per label, any other folder is unlabelled
files. Relative ``lists`` and ``index`` paths are used as given.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

from musictag.audio.discover import find_audio
from musictag.data.dataset import Dataset
from musictag.data.gtzan import find_clips, load_gtzan
from musictag.data.label_folders import load_audio_files, load_label_folders
from musictag.data.manifest import load_manifest
from musictag.data.mtt import load_mtt
from musictag.data.splits import stratified_split
from musictag.errors import ParameterError

KINDS = ("gtzan", "mtt", "folders", "manifest", "files")


def parse_spec(spec: str) -> tuple[str | None, Path, dict[str, str]]:
    """Split a SPEC into (kind or None, path, options)."""
    body, _, query = spec.partition("?")
    kind, sep, rest = body.partition(":")
    if sep and kind in KINDS:
        body = rest
    else:
        kind = None
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False)) if query else {}
    return kind, Path(body), options


def _guess_kind(path: Path) -> str:
    if path.is_file():
        return "mtt" if path.name == "annotations_final.csv" else "manifest"
    if (path / "annotations_final.csv").is_file():
        return "mtt"
    if path.is_dir() and find_clips(path):
        return "gtzan"
    if path.is_dir() and not any(p.is_dir() and find_audio([p]) for p in path.iterdir()):
        return "files"
    return "folders"


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def open_dataset(spec: str) -> Dataset:
    """Load the data set a SPEC names (see the module docstring)."""
    kind, path, options = parse_spec(spec)
    kind = kind or _guess_kind(path)
    take = options.pop
    try:
        if kind == "gtzan":
            dataset = load_gtzan(path, split=take("split", "none"), lists=take("lists", None),
                                 fold=int(take("fold", 1)), fractions=_floats(take("fractions", "0.8,0.1,0.1")),
                                 seed=int(take("seed", 0)))  # fmt: skip
        elif kind == "mtt":
            sizes = tuple(int(x) for x in take("sizes", "18000,2000").split(","))
            dataset = load_mtt(path, split=take("split", "folders"), top=int(take("top", 50)),
                               merge=take("merge", "false").lower() in ("1", "true", "yes"),
                               index=take("index", None), sizes=sizes, seed=int(take("seed", 0)))  # fmt: skip
        else:
            loader = {"manifest": load_manifest, "files": load_audio_files}.get(kind, load_label_folders)
            dataset = loader(path)
            if take("split", None) == "random":
                fractions = _floats(take("fractions", "0.8,0.1,0.1"))
                dataset = dataset.with_splits(stratified_split(dataset.items, fractions, seed=int(take("seed", 0))))
    except ValueError as exc:
        if isinstance(exc, ParameterError):
            raise
        raise ParameterError(f"{spec}: bad option value ({exc})") from None
    if options:
        raise ParameterError(f"{spec}: unknown options for {kind}: {', '.join(sorted(options))}")
    return dataset

