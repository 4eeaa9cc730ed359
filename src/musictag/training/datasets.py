"""Torch data sets over the feature cache (random crops for training, whole tracks for validation,
siamese pairs for DA) and the loaders a training run reads them through."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from musictag.data.dataset import Dataset, Item
from musictag.errors import ParameterError
from musictag.features.cache import FeatureCache
from musictag.features.patches import iter_patches, random_crop
from musictag.training.settings import NeuralSettings
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

    def __init__(
        self,
        arrays: list[np.ndarray],
        targets: np.ndarray,
        *,
        frames: int,
        crops_per_track: int = 1,
        limit: int | None = None,
    ):
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

    def __init__(
        self, arrays: list[np.ndarray], targets: np.ndarray, *, frames: int, hop: int, limit: int | None = None
    ):
        self.arrays, self.targets = arrays, targets
        self.frames, self.hop, self.limit = frames, hop, limit

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        features = np.asarray(self.arrays[index][: self.limit], dtype=np.float32)
        patches = torch.from_numpy(np.concatenate(list(iter_patches([features], length=self.frames, hop=self.hop))))
        return patches, torch.as_tensor(self.targets[index])


def collate_tracks(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenate the tracks' patches; ``counts`` says how many rows belong to each track."""
    patches, targets = zip(*batch, strict=True)
    counts = torch.tensor([len(p) for p in patches])
    return torch.cat(patches), counts, torch.stack(targets)


class PairSet(TorchDataset):
    """Siamese pairs: every anchor crop with a real target partner of the same class half the time."""

    def __init__(self, anchors: CropSet, partners: CropSet):
        self.anchors, self.partners = anchors, partners
        targets = np.asarray(partners.targets)
        self.by_class = {int(c): np.flatnonzero(targets == c) for c in np.unique(targets)}
        self.others = {c: np.flatnonzero(targets != c) for c in self.by_class}

    def __len__(self) -> int:
        return len(self.anchors)

    def __getitem__(self, index: int):
        x, y = self.anchors[index]
        cls = int(y)
        same = torch.rand(()) < 0.5 and cls in self.by_class
        pool = self.by_class[cls] if same else self.others.get(cls, np.arange(len(self.partners.arrays)))
        partner = int(pool[int(torch.randint(0, len(pool), ()).item())])
        xp, yp = self.partners[partner]  # crop index < n tracks: that track
        return x, y, xp, yp


def training_loaders(
    dataset: Dataset,
    cache: FeatureCache,
    settings: NeuralSettings,
    *,
    frames: int,
    hop: int,
    limit: int | None,
    train: list[Item],
    valid: list[Item] | None = None,
    partners: list[Item] | None = None,
    quiet: bool = True,
) -> tuple[dict, list[Item], list[Item]]:
    """Lightning's ``train_dataloaders`` (random crops, or pairs with ``partners``) and
    ``val_dataloaders`` (whole tracks), features extracted first; returns them with the train and
    valid items that could be read."""
    workers = settings.feature_workers
    train, train_arrays = cached_features(train, cache, workers=workers, quiet=quiet)
    if not train:
        raise ParameterError(f"{dataset.name}: no readable training items")
    crops = CropSet(
        train_arrays, dataset.targets(train), frames=frames, crops_per_track=settings.crops_per_track, limit=limit
    )
    if partners:
        partners, partner_arrays = cached_features(partners, cache, workers=workers, quiet=quiet)
        crops = PairSet(crops, CropSet(partner_arrays, dataset.targets(partners), frames=frames, limit=limit))
    loaders = {
        "train_dataloaders": DataLoader(
            crops,
            batch_size=settings.batch_size,
            shuffle=True,
            drop_last=len(crops) > settings.batch_size,
            num_workers=settings.loader_workers,
            persistent_workers=settings.loader_workers > 0,
        )
    }
    valid = valid or []
    if valid:
        valid, valid_arrays = cached_features(valid, cache, workers=workers, quiet=quiet)
        tracks = TrackSet(valid_arrays, dataset.targets(valid), frames=frames, hop=hop, limit=limit)
        loaders["val_dataloaders"] = DataLoader(
            tracks, batch_size=4, collate_fn=collate_tracks, num_workers=settings.loader_workers
        )
    return loaders, train, valid
