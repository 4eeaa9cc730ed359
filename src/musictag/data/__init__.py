"""Data sets: GTZAN, MagnaTagATune, label folders and manifests behind one interface.

``open_dataset(SPEC)`` (the grammar in :mod:`musictag.data.spec`, the loading in
:mod:`musictag.data.load`) gives a :class:`~musictag.data.dataset.Dataset` of items with paths,
labels, splits and groups. Names are imported on first use, so that the
command line can read :mod:`musictag.data.download`'s archive names without numpy.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    **dict.fromkeys(("parse_spec", "resolve_spec", "KINDS"), "musictag.data.spec"),
    "open_dataset": "musictag.data.load",
    **dict.fromkeys(("Dataset", "Item", "SPLITS"), "musictag.data.dataset"),
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'musictag.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
