"""musictag: music auto-tagging and genre classification.

The public names below are imported on first use (PEP 562), so ``import musictag`` and
``import musictag.errors`` load neither torch nor any other heavy library.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "AudioError": "musictag.errors",
    "MusictagError": "musictag.errors",
    "ParameterError": "musictag.errors",
    "WeightsNotFoundError": "musictag.errors",
    "EmbedResult": "musictag.inference.results",
    "FileError": "musictag.inference.results",
    "TagResult": "musictag.inference.results",
    "Tagger": "musictag.inference.tagger",
    "TaggerBackend": "musictag.inference.base",
    "open_tagger": "musictag.inference.factory",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'musictag' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
