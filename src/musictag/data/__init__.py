"""Data sets: GTZAN, MagnaTagATune, label folders and manifests behind one interface.

``open_dataset(SPEC)`` (see :mod:`musictag.data.spec`) gives a :class:`~musictag.data.dataset.Dataset`
of items with paths, labels, splits and groups. Names are imported on first use, so that the
command line can read :mod:`musictag.data.download`'s archive names without numpy.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    **dict.fromkeys(("open_dataset", "parse_spec", "KINDS"), "musictag.data.spec"),
    **dict.fromkeys(("Dataset", "Item", "SPLITS"), "musictag.data.dataset"),
}
__all__ = list(_EXPORTS)

def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'musictag.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
