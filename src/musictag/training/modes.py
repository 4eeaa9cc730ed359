"""The six synthetic-to-real training strategies of the synthetic-data study.

``src_only`` trains on the synthetic source only; ``trg_only`` on the real target only;
``both`` on their union; ``TL`` keeps the source-trained network and fits a new head on the
target (everything but the classifier frozen); ``FT`` fine-tunes the whole source-trained
network on the target, the layers below the head at half the rate; ``DA`` is the
seed's supervised contrastive adaptation: siamese pairs whose anchor comes from the source
or the target and whose partner is a real target clip of the same genre (half the time) or
another, loss ``0.3 * cross-entropy + 0.7 * contrastive`` with margin 2 on the penultimate
features scaled to unit length (see :func:`contrastive_loss`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset as TorchDataset

from musictag.data.dataset import Dataset, Item
from musictag.errors import ParameterError
from musictag.training.datasets import CropSet
from musictag.training.task import TaggingTask

MODES = ("src_only", "trg_only", "both", "TL", "FT", "DA")
DA_MARGIN, DA_WEIGHTS = 2.0, (0.3, 0.7)


def merged(source: Dataset, target: Dataset, target_items: list[Item]) -> Dataset:
    """Source and target training items as one data set with the target's label order."""
    unknown = {label for item in source.items for label in item.labels} - set(target.vocabulary)
    if unknown:
        raise ParameterError(f"source labels not in the target: {', '.join(sorted(unknown))}")
    return Dataset(name=f"{source.name}+{target.name}", task=target.task, vocabulary=list(target.vocabulary),
                   items=[replace(i, split="train") for i in source.items] + list(target_items))  # fmt: skip


def mode_settings(mode: str, settings, source_model: Path | None):
    """The neural settings a mode trains with: the target-only modes take ``settings.target``'s
    overrides, and TL and FT start from the source-trained model."""
    if mode in ("TL", "FT") and source_model is None:
        raise ParameterError(f"mode {mode} needs the source-trained model")
    if mode in ("trg_only", "TL", "FT"):
        settings = replace(settings, **settings.target)
    if mode == "TL":
        return replace(settings, init=str(source_model), freeze=["backbone"])
    if mode == "FT":
        return replace(settings, init=str(source_model), backbone_lr=settings.backbone_lr or settings.lr / 2)
    return settings


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


def contrastive_loss(anchor: torch.Tensor, partner: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Mean contrastive loss of embedding pairs (rows), ``same`` 1 where the pair shares a genre.

    Embeddings are scaled to unit length first, so the margin of 2 is the sphere's diameter: on raw
    batch-normalised 64-d features, squared same-genre distances start near 2 * 64 and the pull term
    drowns the classification loss, collapsing the embedding (5-fold gtzan_mini fold 1: DA 0.25
    on raw features, 0.50 on unit-length ones).
    """
    anchor, partner = F.normalize(anchor, dim=1), F.normalize(partner, dim=1)
    distance = (anchor - partner).norm(dim=1)
    return (same * distance.pow(2) + (1 - same) * F.relu(DA_MARGIN - distance).pow(2)).mean()


class ContrastiveTask(TaggingTask):
    """:class:`TaggingTask` trained on pairs with the classification + contrastive loss."""

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        xa, ya, xp, yp = batch
        both = self.model.forward_features(torch.cat([xa, xp]))
        logits, embedding = both["logits"][: len(xa)], both["penultimate"]
        contrastive = contrastive_loss(embedding[: len(xa)], embedding[len(xa) :], (ya == yp).float())
        ce = F.cross_entropy(logits, ya, label_smoothing=self.label_smoothing)
        loss = DA_WEIGHTS[0] * ce + DA_WEIGHTS[1] * contrastive
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(xa), sync_dist=True)
        return loss


def train_mode(mode: str, *, source: Dataset, target: Dataset, train: list[Item], settings, out: str | os.PathLike,
               source_model: Path | None = None, valid: list[Item] | None = None, name: str = "model",
               quiet: bool = True) -> Path:  # fmt: skip
    """Train ``mode`` for one fold (``train``: the target's training items; ``valid``: real tracks
    that pick the best epoch, none by default and never for ``src_only``); returns the model folder."""
    from musictag.training.neural import train_neural

    if mode not in MODES:
        raise ParameterError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    if target.task != "single-label":
        raise ParameterError("the synthetic-data modes are defined for single-label (genre) targets")
    out = Path(out)
    if mode == "src_only":  # in the target's label order, so that every mode's model scores the same classes;
        # no real track is seen, not even to pick the epoch
        return train_neural(merged(source, target, []), settings, out, train=source.items, name=name, quiet=quiet)
    if mode in ("both", "DA"):
        union = merged(source, target, [*train, *(valid or [])])
        return train_neural(union, settings, out, train=[*source.items, *train], valid=valid, name=name, quiet=quiet,
                            partners=train if mode == "DA" else None)  # fmt: skip
    return train_neural(target, mode_settings(mode, settings, source_model), out, train=train, valid=valid, name=name,
                        quiet=quiet)  # fmt: skip


def trained_source_model(*, source: Dataset, target: Dataset, settings, run: str | os.PathLike, name: str = "src_only",
                         quiet: bool = True) -> Path:  # fmt: skip
    """The src_only model folder of ``run``, trained there first unless a finished one is there."""
    from musictag.training.neural import is_trained

    run = Path(run)
    if not is_trained(run):
        train_mode("src_only", source=source, target=target, train=[], settings=settings, out=run, name=name,
                   quiet=quiet)  # fmt: skip
    return run / "model"
