"""A linear head on frozen MusiCNN embeddings, kept with its backbone in one model folder."""

from __future__ import annotations

import torch
from torch import nn

from musictag.models.musicnn import MusiCNN


class TransferHead(nn.Module):
    """Frozen MusiCNN -> chosen layers, concatenated -> standardised -> linear.

    Parameters
    ----------
    n_classes : int
        Outputs of the head.
    layers : list of str
        MusiCNN representations fed to the head (``penultimate``, ``max_pool``, ``mean_pool``).
    backbone : dict
        Keyword settings of the :class:`MusiCNN` backbone.
    """

    def __init__(self, *, n_classes: int, layers: list[str], backbone: dict | None = None):
        super().__init__()
        self.backbone = MusiCNN(**(backbone or {}))
        self.backbone.requires_grad_(False)
        self.layers = list(layers)
        width = sum(self.backbone.embedding_dims[name] for name in self.layers)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))
        self.linear = nn.Linear(width, n_classes)
        self.embedding_dims = {"embedding": width, **self.backbone.embedding_dims}

    def embed(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Backbone representations plus their concatenation (``embedding``), per patch."""
        features = self.backbone.eval().forward_features(x)
        features["embedding"] = torch.cat([features[name] for name in self.layers], dim=1)
        return features

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.embed(x)
        features["logits"] = self.linear((features["embedding"] - self.mean) / self.scale)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)["logits"]
