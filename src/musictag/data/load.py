"""Load the data set a SPEC names (see :mod:`musictag.data.spec`), guessing its layout when the
SPEC does not name it, and saying which layout was read (``Dataset.layout``)."""

from __future__ import annotations

from pathlib import Path

from musictag.audio.discover import find_audio
from musictag.data.dataset import Dataset, Item
from musictag.data.gtzan import clip_id, load_gtzan
from musictag.data.label_folders import load_audio_files, load_label_folders
from musictag.data.manifest import load_manifest
from musictag.data.mtt import load_mtt
from musictag.data.spec import parse_spec
from musictag.data.splits import stratified_split
from musictag.errors import ParameterError


def _guess_kind(path: Path) -> tuple[str, str]:
    """The layout of ``path`` and why it was chosen."""
    if path.is_file():
        if path.name == "annotations_final.csv":
            return "mtt", "MagnaTagATune's annotations file"
        return "manifest", "a file"
    if (path / "annotations_final.csv").is_file():
        return "mtt", "it holds annotations_final.csv"
    files = [Path(f) for f in find_audio([path], recursive=True)] if path.is_dir() else []
    ids = [clip_id(f.name) for f in files]
    if (
        files
        and all(ids)
        and all(f.parent == path or f.parent.name == cid.split(".")[0] for f, cid in zip(files, ids, strict=True))
    ):
        return "gtzan", "every audio file has a GTZAN clip name, in its genre's folder or at the top"
    if path.is_dir() and not any(p.is_dir() and find_audio([p], recursive=True) for p in path.iterdir()):
        return "files", "audio files without label folders"
    return "folders", "a sub-folder per label"


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def reference_items(spec: str, setting: str) -> list[Item]:
    """The items of ``spec``, real audio a model takes statistics from (``setting`` names the option in
    errors); a :class:`ParameterError` when there are none, raised before any training starts."""
    dataset = open_dataset(spec)
    if not dataset.items:
        raise ParameterError(f"{setting} {spec}: no audio files{dataset.left_out()}")
    return dataset.items


def open_dataset(spec: str) -> Dataset:
    """Load the data set a SPEC names (see the module docstring)."""
    kind, path, options = parse_spec(spec)
    reason = "named in the SPEC"
    if kind is None:
        kind, reason = _guess_kind(path)
        reason = f"guessed: {reason}; name it in the SPEC, e.g. folders:{path}, to choose"
    take = options.pop
    try:
        if kind == "gtzan":
            dataset = load_gtzan(
                path,
                split=take("split", "none"),
                lists=take("lists", None),
                fold=int(take("fold", 1)),
                fractions=_floats(take("fractions", "0.8,0.1,0.1")),
                seed=int(take("seed", 0)),
                artists=take("groups", "none") == "artist",
            )
        elif kind == "mtt":
            sizes = tuple(int(x) for x in take("sizes", "18000,2000").split(","))
            dataset = load_mtt(
                path,
                split=take("split", "folders"),
                top=int(take("top", 50)),
                merge=take("merge", "false").lower() in ("1", "true", "yes"),
                index=take("index", None),
                sizes=sizes,
                seed=int(take("seed", 0)),
            )
        else:
            if kind == "manifest":
                dataset = load_manifest(path, overlap=take("overlap", "refuse"))
            else:
                dataset = (load_audio_files if kind == "files" else load_label_folders)(path)
            if take("split", None) == "random":
                fractions = _floats(take("fractions", "0.8,0.1,0.1"))
                dataset = dataset.with_splits(stratified_split(dataset.items, fractions, seed=int(take("seed", 0))))
    except ValueError as exc:
        if isinstance(exc, ParameterError):
            raise
        raise ParameterError(f"{spec}: bad option value ({exc})") from None
    if options:
        raise ParameterError(f"{spec}: unknown options for {kind}: {', '.join(sorted(options))}")
    dataset.layout = f"{kind} ({reason})"
    return dataset
