"""The SPEC grammar that names a data set (no heavy imports: recipes and the command line read it),
``[kind:]PATH[?key=value&key=value]``, ``[kind:]PATH[?key=value&key=value]``::

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
files (see :func:`musictag.data.load.open_dataset`). ``~`` is expanded in the path and in ``lists``
and ``index``; relative ones are used as given, except in a recipe file, where they are read
against the recipe's folder (:func:`resolve_spec`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, quote

KINDS = ("gtzan", "mtt", "folders", "manifest", "files")
PATH_OPTIONS = ("lists", "index")  # options that name files or folders


def parse_spec(spec: str) -> tuple[str | None, Path, dict[str, str]]:
    """Split a SPEC into (kind or None, path, options)."""
    body, _, query = spec.partition("?")
    kind, sep, rest = body.partition(":")
    if sep and kind in KINDS:
        body = rest
    else:
        kind = None
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False)) if query else {}
    for key in PATH_OPTIONS:
        if key in options:
            options[key] = str(Path(options[key]).expanduser())
    return kind, Path(body).expanduser(), options


def resolve_spec(spec: str, base: str | Path) -> str:
    """``spec`` with its relative paths (the data and its ``lists`` / ``index`` options) read against ``base``."""
    kind, path, options = parse_spec(spec)
    base = Path(base)
    path = path if path.is_absolute() else base / path
    for key in PATH_OPTIONS:
        if key in options and not Path(options[key]).is_absolute():
            options[key] = str(base / options[key])
    query = "&".join(f"{key}={quote(value, safe='/,.:~')}" for key, value in options.items())
    return f"{kind + ':' if kind else ''}{path}{'?' + query if query else ''}"
