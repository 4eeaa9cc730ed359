"""Argument types and output checks shared by the commands.

A bad value is a usage error (exit 2) that names the flag, found while the command line is
parsed; an output that cannot be written (a folder, an input file, a place that cannot be
created) is found before any work starts.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from musictag.pretrained.catalog import PRETRAINED


def _number(text: str, kind: type, check, wanted: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
    if not check(value):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, lambda v: v > 0, "a whole number of at least 1")


def non_negative_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "a whole number of at least 0")


def descriptor_list(text: str) -> tuple[str, ...]:
    """``key,bpm``: what ``--describe`` estimates beside the tags."""
    from musictag.describe import parse_descriptors
    from musictag.errors import ParameterError

    try:
        return parse_descriptors(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def fold_count(text: str) -> int:
    return _number(text, int, lambda v: v >= 2, "a number of folds of at least 2")


def folds_or_artist3(text: str) -> str:
    """``artist3`` (GTZAN's artist-filtered folds) or a number of folds of at least 2."""
    return text if text == "artist3" else str(fold_count(text))


def excerpt_lengths(text: str) -> str | None:
    """``--excerpts``: ``SECONDS`` or ``LOW-HIGH`` (checked while parsing), or ``none`` (None: no excerpts);
    the same for train, evaluate and experiment."""
    if text.strip().lower() == "none":
        return None
    low, _, high = text.partition("-")
    try:
        shortest, longest = float(low), float(high or low)
    except ValueError:
        shortest = longest = math.nan
    if not 0 < shortest <= longest < math.inf:
        raise argparse.ArgumentTypeError(f"expected SECONDS, LOW-HIGH (e.g. 2-3) or none, got {text!r}")
    return text


def positive_seconds(text: str) -> float:
    return _number(text, float, lambda v: 0 < v < math.inf, "a positive number of seconds")


def model_name(text: str) -> str:
    """A pretrained model's name, an existing folder or an exported .onnx file (what is in it is checked
    on loading)."""
    path = Path(text).expanduser()
    if text in PRETRAINED:
        return text
    if path.is_dir() or path.suffix == ".onnx" and path.is_file():
        return str(path)
    raise argparse.ArgumentTypeError(
        f"unknown model {text!r}: use one of {', '.join(PRETRAINED)}, a model folder or an exported .onnx file"
    )


def torch_model_name(text: str) -> str:
    """As :func:`model_name`, for commands that need the network itself (gradients, activations): an exported
    .onnx file is refused while the command line is parsed."""
    if text.endswith(".onnx"):
        raise argparse.ArgumentTypeError(
            f"{text}: an exported ONNX file has no gradients or activations to "
            "read; use the model folder or pretrained name it was exported from"
        )
    return model_name(text)


def existing_path(text: str) -> str:
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder")
    return str(path)


def check_output(path: str | os.PathLike, *, inputs: list[str | os.PathLike] = (), folder: bool = False) -> Path:
    """The output ``path``, made writable before the work starts: its folder is created, and it is
    refused (one line) when it names a folder where a file goes (or the other way round), a folder
    that cannot be created or written into, or one of the ``inputs``. A device or pipe (``/dev/null``,
    a fifo) is a file output that is written to as it is; a symbolic link is followed."""
    from musictag.errors import MusictagError
    from musictag.utils.atomic import is_special, probe_writable

    path = Path(path).expanduser()
    if is_special(path):
        if folder:
            raise MusictagError(f"{path}: is not a folder; the output needs a folder")
        if not os.access(path, os.W_OK):
            raise MusictagError(f"{path}: cannot write to it (permission denied)")
        return path
    if path.is_dir() and not folder:
        raise MusictagError(f"{path}: is a folder; the output needs a file name (e.g. {path / 'results.csv'})")
    if path.exists() and not path.is_dir() and folder:
        raise MusictagError(f"{path}: is a file; the output needs a folder")
    target = Path(os.path.realpath(path))
    parent = target if folder else target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MusictagError(f"{path}: cannot create the folder {parent} ({exc.strerror})") from None
    try:
        probe_writable(parent)
    except OSError as exc:
        raise MusictagError(f"{path}: cannot write into {parent} ({exc.strerror or exc})") from None
    if path.exists() and not folder:
        for source in inputs:
            try:
                same = os.path.samefile(path, source)
            except OSError:
                continue
            if same:
                raise MusictagError(f"{path}: is one of the input files; refusing to overwrite it")
    return path
