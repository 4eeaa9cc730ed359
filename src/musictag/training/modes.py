"""The six synthetic-to-real training strategies of the synthetic-data study.

``src_only`` trains on the synthetic source only; ``trg_only`` on the real target only;
``both`` on their union; ``TL`` keeps the source-trained network and fits a new head on the
target (everything but the classifier frozen); ``FT`` fine-tunes the whole source-trained
network on the target, the layers below the head at half the rate; ``DA`` is the
seed's supervised contrastive adaptation: siamese pairs whose anchor comes from the source
or the target and whose partner is a real target clip of the same genre (half the time) or
another, loss ``0.3 * cross-entropy + 0.7 * contrastive`` with margin 2 on the penultimate
features scaled to unit length (see :func:`~musictag.training.task.contrastive_loss`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path

from musictag.data.dataset import Dataset, Item
from musictag.errors import ParameterError
from musictag.training.neural import train_neural, train_once
from musictag.training.recipe import MODES
from musictag.training.settings import NeuralSettings


def merged(source: Dataset, target: Dataset, target_items: list[Item]) -> Dataset:
    """Source and target training items as one data set with the target's label order."""
    unknown = {label for item in source.items for label in item.labels} - set(target.vocabulary)
    if unknown:
        raise ParameterError(f"source labels not in the target: {', '.join(sorted(unknown))}")
    return Dataset(
        name=f"{source.name}+{target.name}",
        task=target.task,
        vocabulary=list(target.vocabulary),
        items=[replace(i, split="train") for i in source.items] + list(target_items),
    )


def mode_settings(mode: str, settings: NeuralSettings, source_model: Path | None) -> NeuralSettings:
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


def train_mode(
    mode: str,
    *,
    source: Dataset,
    target: Dataset,
    train: list[Item],
    settings,
    out: str | os.PathLike,
    source_model: Path | None = None,
    valid: list[Item] | None = None,
    name: str = "model",
    quiet: bool = True,
) -> Path:
    """Train ``mode`` for one fold (``train``: the target's training items; ``valid``: real tracks
    that pick the best epoch, none by default and never for ``src_only``); returns the model folder."""
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
        return train_neural(
            union,
            settings,
            out,
            train=[*source.items, *train],
            valid=valid,
            name=name,
            quiet=quiet,
            partners=train if mode == "DA" else None,
        )
    return train_neural(
        target, mode_settings(mode, settings, source_model), out, train=train, valid=valid, name=name, quiet=quiet
    )


def trained_source_model(
    *, source: Dataset, target: Dataset, settings, run: str | os.PathLike, name: str = "src_only", quiet: bool = True
) -> Path:
    """The src_only model folder of ``run``, trained there first unless a finished one is there."""
    return train_once(
        run,
        partial(
            train_mode,
            "src_only",
            source=source,
            target=target,
            train=[],
            settings=settings,
            out=run,
            name=name,
            quiet=quiet,
        ),
    )
