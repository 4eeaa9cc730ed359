"""A model as a self-describing folder: ``config.json`` + ``model.safetensors``.

Pretrained checkpoints are converted into this format, and trained models are saved in
it, so ``Tagger(folder)`` and ``musictag tag --model folder`` treat both alike. Weights
are only ever read with safetensors (classical pipelines with skops and a trusted-type list,
see :mod:`musictag.models.classical`): nothing is unpickled.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from musictag.errors import MusictagError
from musictag.models.classical import ARCHITECTURE as CLASSICAL
from musictag.models.classical import SKOPS_NAME, ClassicalModel, load_classical
from musictag.models.config import ModelConfig
from musictag.utils.atomic import atomic_open, atomic_path

if TYPE_CHECKING:  # torch only where weights are read or written: finding a folder stays light
    import numpy as np
    import torch

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def is_model_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding a model's ``config.json``."""
    path = Path(path)
    return (path / CONFIG_NAME).is_file() and ((path / WEIGHTS_NAME).is_file() or (path / SKOPS_NAME).is_file())


def save_model_folder(
    folder: str | os.PathLike, config: ModelConfig, state: dict[str, torch.Tensor] | dict[str, np.ndarray]
) -> Path:
    """Write weights (torch tensors, or numpy arrays: no torch needed) then config, each atomically."""
    import numpy as np

    folder = Path(folder)
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        if all(isinstance(v, np.ndarray) for v in state.values()):
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp))
        else:
            from safetensors.torch import save_file

            save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp))
    with atomic_open(folder / CONFIG_NAME) as handle:  # last: its presence marks a complete folder
        json.dump(asdict(config), handle, indent=2)
    return folder


def read_config(folder: str | os.PathLike) -> ModelConfig:
    """A model folder's config alone (names, labels, front end), without building the model."""
    folder = Path(folder)
    if not is_model_folder(folder):
        raise MusictagError(f"{folder}: not a model folder (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    try:
        return ModelConfig(**json.loads((folder / CONFIG_NAME).read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise MusictagError(f"{folder / CONFIG_NAME}: invalid model config ({exc})") from None


def load_model_folder(folder: str | os.PathLike) -> tuple[torch.nn.Module | ClassicalModel, ModelConfig]:
    """Rebuild the model of a folder (a torch module in eval mode, or a classical model), with its config."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from musictag.models.zoo import build_model

    folder = Path(folder)
    config = read_config(folder)
    if config.architecture == CLASSICAL:
        return load_classical(folder, config), config
    module = build_model(config.architecture, **config.model)
    weights = folder / WEIGHTS_NAME
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise MusictagError(
            f"{weights}: damaged or truncated weights ({first}); for a pretrained model delete "
            f"{folder} and run 'musictag models pull {config.name}', else train or export it "
            "again"
        ) from None
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise MusictagError(f"{weights}: weights do not fit the config ({first})") from None
    return module.eval(), config


def activate(logits: torch.Tensor, activation: str) -> torch.Tensor:
    """Scores from logits: softmax over classes or a sigmoid per tag (see :func:`activation_for`)."""
    import torch

    return torch.softmax(logits, -1) if activation == "softmax" else torch.sigmoid(logits)
