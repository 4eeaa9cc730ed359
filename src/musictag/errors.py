"""Exception types. Every error musictag raises on purpose derives from MusictagError."""

from __future__ import annotations


class MusictagError(Exception):
    """Base class: the command line prints these as one line, without a traceback, and exits with
    ``exit_code``."""

    exit_code = 1


class ParameterError(MusictagError, ValueError):
    """A function or command was called with an invalid parameter."""


class AudioError(MusictagError):
    """An audio file is missing, empty, corrupt or in a format that cannot be decoded."""


class WeightsNotFoundError(MusictagError):
    """Pretrained weights are neither cached nor reachable."""


def failure_line(path: object, exc: Exception) -> str:
    """One line naming the file and the problem: our own errors as they are, anything a
    decoder library raised on a broken file with its type, first line only."""
    if isinstance(exc, MusictagError):
        return str(exc)
    return f"{path}: {type(exc).__name__}: {exc}".splitlines()[0]
