"""A model as a self-describing folder: ``config.json`` + ``model.safetensors``.

Pretrained checkpoints are converted into this format, and trained models are saved in
it, so ``Tagger(folder)`` and ``musictag tag --model folder`` treat both alike. Weights
are only ever read with safetensors: nothing is unpickled.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file, save_file

from musictag.errors import MusictagError
from musictag.features.mel import FrontendConfig
from musictag.models import build_model
from musictag.utils.atomic import atomic_open, atomic_path

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model and feed it audio."""

    name: str
    architecture: str
    labels: list[str]
    model: dict = field(default_factory=dict)  # keyword settings of the architecture
    frontend: dict = field(default_factory=dict)  # FrontendConfig fields
    activation: Literal["sigmoid", "softmax"] = "sigmoid"
    patch_frames: int = 187
    # how a track's scores come from its patches: the mean of the per-patch scores (musicnn), or
    # the activation of the mean logits (exactly a linear head fitted on mean embeddings)
    score_pooling: Literal["mean_scores", "mean_logits"] = "mean_scores"
    patch_hop: float | None = None  # seconds between patches the model was trained and evaluated with
    info: dict = field(default_factory=dict)  # data set, published or measured metrics, provenance

    def frontend_config(self) -> FrontendConfig:
        return FrontendConfig.from_dict(self.frontend)


def is_model_folder(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / CONFIG_NAME).is_file() and (path / WEIGHTS_NAME).is_file()


def save_model_folder(folder: str | os.PathLike, config: ModelConfig, state: dict[str, torch.Tensor]) -> Path:
    """Write weights then config, each atomically; the config's presence marks a complete folder."""
    folder = Path(folder)
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp))
    with atomic_open(folder / CONFIG_NAME) as handle:
        json.dump(asdict(config), handle, indent=2)
    return folder


def load_model_folder(folder: str | os.PathLike) -> tuple[torch.nn.Module, ModelConfig]:
    """Rebuild the model of a folder in eval mode, with its config."""
    folder = Path(folder)
    if not is_model_folder(folder):
        raise MusictagError(f"{folder}: not a model folder (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    try:
        config = ModelConfig(**json.loads((folder / CONFIG_NAME).read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise MusictagError(f"{folder / CONFIG_NAME}: invalid model config ({exc})") from None
    module = build_model(config.architecture, **config.model)
    try:
        module.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
    except (RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise MusictagError(f"{folder / WEIGHTS_NAME}: weights do not fit the config ({first})") from None
    return module.eval(), config
