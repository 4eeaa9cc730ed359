"""A cache of the embeddings a transfer head learns from (:func:`musictag.training.fit_head.embed_tracks`).

Keyed by the audio file's bytes and by everything that shapes its embeddings: the backbones' weights
and config, the layers, the hop, and the crops (their number, lengths and seed, and the perturbed
crops' number; crops are drawn from the item's id, so with crops the id is part of the key).
Training again (another head, another reference, a run that was stopped) reads them back instead of
running the backbones over every file.
Layout: ``<cache>/embeddings/<settings key>/<hh>/<file key>.npz``, each file written atomically.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from musictag.data.dataset import Item
from musictag.training.settings import TransferSettings
from musictag.utils.atomic import atomic_path
from musictag.utils.hashing import content_hash, model_fingerprint
from musictag.utils.paths import cache_dir

#: Part of the settings key: a change to how embeddings are computed gets a new number.
VERSION = 1


class EmbeddingCache:
    """Embeddings (every patch, and the crops) of audio files for one set of transfer settings."""

    def __init__(self, settings: TransferSettings, *, root: str | Path | None = None):
        from musictag.pretrained.store import resolve_model

        self.crops = settings.crops if settings.samples == "patches" else 0
        self.perturbed = settings.perturbed_crops if settings.samples == "patches" else 0
        shaped_by = {
            "version": VERSION,
            "backbones": [model_fingerprint(resolve_model(name)) for name in settings.backbones],
            "layers": list(settings.layers),
            "hop": settings.hop,
            "crops": self.crops,
            "crop_seconds": list(settings.crop_seconds) if self.crops else None,
            "seed": settings.seed if self.crops else None,
        }
        if self.perturbed:  # absent otherwise, so the entries written before the setting stay valid
            shaped_by["perturbed_crops"] = self.perturbed
        key = hashlib.blake2b(json.dumps(shaped_by, sort_keys=True).encode(), digest_size=8).hexdigest()
        self.folder = Path(root or cache_dir()) / "embeddings" / key

    def entry(self, item: Item) -> Path | None:
        """Where ``item``'s embeddings are kept (None for an item without a file): read its bytes once
        and pass the path to :meth:`load` and :meth:`save`."""
        if not item.path or not Path(item.path).is_file():
            return None
        name = content_hash(item.path)
        if self.crops or self.perturbed:
            name += f"-{zlib.crc32(item.id.encode('utf-8', 'surrogateescape')):08x}"
        return self.folder / name[:2] / f"{name}.npz"

    @staticmethod
    def load(entry: Path | None) -> tuple[np.ndarray, np.ndarray] | None:
        """``(patches, crops)`` kept at ``entry``, else None (a damaged entry counts as missing)."""
        if entry is None or not entry.is_file():
            return None
        try:
            with np.load(entry) as stored:
                return stored["patches"], stored["crops"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None

    @staticmethod
    def save(entry: Path | None, patches: np.ndarray, crops: np.ndarray) -> None:
        """Keep embeddings at ``entry`` (nothing for an item without a file)."""
        if entry is None:
            return
        entry.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(entry) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, patches=patches, crops=crops)
