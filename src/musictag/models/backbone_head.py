"""A head on frozen pretrained backbones, kept with them in one model folder.

Every backbone (musicnn's MusiCNN or VGG) reads the same log-mel patch; the chosen layers of
each are concatenated, standardised, and fed to a linear layer or a small MLP. Scores are made
per patch, so a clip of one patch is exactly what the head was trained on, and a track's score
is the activation of its patches' mean logits.
"""

from __future__ import annotations

import torch
from torch import nn

from musictag.errors import ParameterError
from musictag.models.musicnn import MusiCNN
from musictag.models.vgg import MusicnnVGG

BACKBONES: dict[str, type[nn.Module]] = {"musicnn": MusiCNN, "vgg": MusicnnVGG}


class TransferHead(nn.Module):
    """Frozen backbones -> chosen layers, concatenated -> standardised -> linear (or MLP) head.

    Parameters
    ----------
    n_classes : int
        Outputs of the head.
    backbones : list of dict
        Each ``{"architecture": "musicnn" | "vgg", "model": {...settings}, "layers": [...]}``; the
        layers are the backbone's representations (``penultimate``, ``max_pool``, ``mean_pool``).
    hidden : list of int
        Widths of the MLP's hidden ReLU layers; empty for a linear head.
    """

    def __init__(self, *, n_classes: int, backbones: list[dict], hidden: list[int] = ()):
        super().__init__()
        if not backbones:
            raise ParameterError("a transfer head needs at least one backbone")
        unknown = {b["architecture"] for b in backbones} - set(BACKBONES)
        if unknown:
            raise ParameterError(f"transfer backbones must be {' or '.join(BACKBONES)}, got {', '.join(unknown)}")
        self.backbones = nn.ModuleList(BACKBONES[b["architecture"]](**b.get("model", {})) for b in backbones)
        self.backbones.requires_grad_(False)
        self.layers = [list(b["layers"]) for b in backbones]
        for backbone, layers in zip(self.backbones, self.layers, strict=True):
            missing = set(layers) - set(backbone.embedding_dims)
            if missing:
                raise ParameterError(
                    f"backbone has no layer {', '.join(sorted(missing))}; it has {', '.join(backbone.embedding_dims)}"
                )
        width = sum(
            b.embedding_dims[name] for b, layers in zip(self.backbones, self.layers, strict=True) for name in layers
        )
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))
        sizes = [width, *hidden, n_classes]
        stack: list[nn.Module] = []
        for first, second in zip(sizes[:-1], sizes[1:], strict=True):
            stack += [nn.Linear(first, second), nn.ReLU()]
        self.head = nn.Sequential(*stack[:-1])  # no ReLU after the output layer
        self.embedding_dims = {"embedding": width}

    def embed(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The concatenated backbone representations (``embedding``) per patch."""
        parts = []
        for backbone, layers in zip(self.backbones, self.layers, strict=True):
            features = backbone.eval().forward_features(x)
            parts += [features[name] for name in layers]
        return {"embedding": torch.cat(parts, dim=1)}

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named layer's output for patches ``x`` ``(batch, frames, n_mels)``, ``logits`` included."""
        features = self.embed(x)
        features["logits"] = self.head((features["embedding"] - self.mean) / self.scale)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits for patches ``x`` ``(batch, frames, n_mels)``."""
        return self.forward_features(x)["logits"]
