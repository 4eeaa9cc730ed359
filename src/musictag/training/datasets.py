"""Torch data sets over the feature cache: random crops for training, whole tracks for evaluation."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from musictag.data.dataset import Item
from musictag.features.cache import FeatureCache, random_crop
from musictag.inference.patches import iter_patches
from musictag.utils.progress import report


def cached_features(
    items: list[Item], cache: FeatureCache, *, workers: int = 1, quiet: bool = True
) -> tuple[list[Item], list[np.ndarray]]:
    """Extract what is missing, then the items whose features exist and their memory-mapped arrays.

    Unreadable files are reported (one line each) and left out.
    """
    readable = [item for item in items if item.path is not None]
    extract = cache.extract([item.path for item in readable], workers=workers, quiet=quiet)
    for _, error in extract.failed:
        report(f"musictag: {error} (left out)")
    failed = {path for path, _ in extract.failed}
    kept = [item for item in readable if str(item.path) not in failed]
    return kept, [cache.load(item.path) for item in kept]


class CropSet(TorchDataset):
    """``crops_per_track`` random ``frames``-long crops of every track per epoch.

    ``limit`` keeps crops within each track's first ``limit`` frames (e.g. the first 10 s).
    Crop positions come from torch's generator, which Lightning seeds per process and worker.
    """

    def __init__(self, arrays: list[np.ndarray], targets: np.ndarray, *, frames: int, crops_per_track: int = 1,
                 limit: int | None = None):  # fmt: skip
        self.arrays, self.targets = arrays, targets
        self.frames, self.crops, self.limit = frames, crops_per_track, limit

    def __len__(self) -> int:
        return len(self.arrays) * self.crops

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        track = index % len(self.arrays)
        crop = random_crop(self.arrays[track][: self.limit], self.frames, lambda n: int(torch.randint(0, n, ())))
        return torch.from_numpy(crop), torch.as_tensor(self.targets[track])


class TrackSet(TorchDataset):
    """Every whole track as its patches ``(n, frames, n_mels)``, starting every ``hop`` frames: the
    patching of :class:`~musictag.inference.tagger.Tagger`, so validation scores tracks as tagging does."""

    def __init__(self, arrays: list[np.ndarray], targets: np.ndarray, *, frames: int, hop: int,
                 limit: int | None = None):  # fmt: skip
        self.arrays, self.targets = arrays, targets
        self.frames, self.hop, self.limit = frames, hop, limit

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.from_numpy(np.asarray(self.arrays[index][: self.limit], dtype=np.float32))
        patches = torch.cat(list(iter_patches([features], length=self.frames, hop=self.hop)))
        return patches, torch.as_tensor(self.targets[index])


def collate_tracks(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenate the tracks' patches; ``counts`` says how many rows belong to each track."""
    patches, targets = zip(*batch, strict=True)
    counts = torch.tensor([len(p) for p in patches])
    return torch.cat(patches), counts, torch.stack(targets)
