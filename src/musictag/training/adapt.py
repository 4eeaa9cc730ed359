"""Batch-norm statistics re-estimated on real audio (AdaBN, Li et al. 2016, "Revisiting batch
normalization for practical domain adaptation").

A network trained on synthetic clips normalises every layer by the clips' statistics; real music
sits elsewhere, so its activations arrive off-centre and mis-scaled. Running the trained network
over real audio (labels unused) and keeping each batch-norm layer's mean and variance of what it then
sees moves only those statistics: no weight changes, and nothing is learnt from a real label.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from musictag.data.dataset import Item
from musictag.errors import ParameterError, failure_line


def adapt_batch_norm(module: torch.nn.Module, batches) -> int:
    """Replace every batch-norm layer's running statistics with their average over ``batches`` (the
    model's input tensors); returns how many inputs were seen. Dropout stays off; the module is left
    in eval mode."""
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ParameterError("the model has no batch normalisation to adapt")
    saved = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over every batch, whatever their number
    module.train()
    for other in module.modules():
        if isinstance(other, torch.nn.Dropout):
            other.eval()
    seen = 0
    try:
        with torch.no_grad():
            for batch in batches:
                if len(batch) > 1:  # one input has no variance to measure
                    module(batch)
                    seen += len(batch)
    finally:
        for norm, momentum in zip(norms, saved, strict=True):
            norm.momentum = momentum
        module.eval()
    if not seen:
        raise ParameterError("no reference audio to adapt batch normalisation with (two patches at least)")
    return seen


def adapt_model_folder(folder: str | os.PathLike, items: list[Item], *, batch: int = 32, quiet: bool = True) -> int:
    """:func:`adapt_batch_norm` for a saved model over ``items``' audio, its patches in batches of
    ``batch`` (files in order), the folder rewritten in place; returns the patches seen."""
    from dataclasses import replace

    from musictag.inference.model import LoadedModel
    from musictag.models.model_folder import save_model_folder
    from musictag.utils.progress import progress, report

    loaded = LoadedModel.open(folder)

    def batches():
        waiting = []
        with progress(len(items), quiet=quiet, desc="adapting batch norm") as bar:
            for item in items:
                bar.update(1)
                try:
                    waiting.extend(loaded.file_patches(item.path)[0])
                except Exception as exc:  # one unreadable reference file must not stop training
                    report(f"musictag: {failure_line(item.path, exc)} (left out of the reference)")
                while len(waiting) >= batch:
                    yield torch.stack(waiting[:batch])
                    del waiting[:batch]
        if waiting:
            yield torch.stack(waiting)

    seen = adapt_batch_norm(loaded.module, batches())
    info = {**loaded.config.info, "batch_norm_reference": {"items": len(items), "patches": seen}}
    save_model_folder(Path(folder), replace(loaded.config, info=info), loaded.module.state_dict())
    return seen
