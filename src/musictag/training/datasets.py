"""Torch data sets over the feature cache: random crops for training, whole tracks for evaluation."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from musictag.data.dataset import Item
from musictag.features.cache import FeatureCache
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


def _fit(features: np.ndarray, frames: int) -> np.ndarray:
    """Repeat a track shorter than ``frames`` until it fills one patch (as the tagger does)."""
    return features if len(features) >= frames else np.resize(np.asarray(features), (frames, features.shape[1]))


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
        features = _fit(self.arrays[track][: self.limit], self.frames)
        start = int(torch.randint(0, len(features) - self.frames + 1, ()).item())
        crop = np.asarray(features[start : start + self.frames], dtype=np.float32)
        return torch.from_numpy(crop), torch.as_tensor(self.targets[track])


class TrackSet(TorchDataset):
    """Every whole track as its patches ``(n, frames, n_mels)``, starting every ``hop`` frames."""

    def __init__(self, arrays: list[np.ndarray], targets: np.ndarray, *, frames: int, hop: int,
                 limit: int | None = None):  # fmt: skip
        self.arrays, self.targets = arrays, targets
        self.frames, self.hop, self.limit = frames, hop, limit

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        features = _fit(self.arrays[index][: self.limit], self.frames)
        starts = range(0, len(features) - self.frames + 1, self.hop)
        patches = np.stack([np.asarray(features[s : s + self.frames], dtype=np.float32) for s in starts])
        return torch.from_numpy(patches), torch.as_tensor(self.targets[index])


def collate_tracks(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenate the tracks' patches; ``counts`` says how many rows belong to each track."""
    patches, targets = zip(*batch, strict=True)
    counts = torch.tensor([len(p) for p in patches])
    return torch.cat(patches), counts, torch.stack(targets)
