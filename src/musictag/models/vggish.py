"""A VGGish-style CNN (Hershey et al., 2017) for genre classification, as in audioconcept.

Four VGG stages (64, 128, 256x2, 512x2 channels of 3x3 convs, each followed by a 2x2 max
pool) on 64-band log-mel patches of 0.96 s (96 frames) or 3.96 s (396 frames), then
VGGish's dense layers down to a 128-d embedding and the classifier. An adaptive average
pool to VGGish's 6 x 4 grid lets both input lengths share the dense layers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

STAGES = ((64,), (128,), (256, 256), (512, 512))


class VGGish(nn.Module):
    """VGGish-style classifier.

    Parameters
    ----------
    n_classes : int
        Outputs.
    stages : sequence of sequences of int
        Conv channels per stage (each stage ends in a 2x2 max pool).
    dense : int
        Width of the two hidden dense layers (4096 in VGGish).
    embedding : int
        Width of the embedding layer (128).
    dropout : float
        Dropout between dense layers.
    """

    def __init__(
        self,
        *,
        n_classes: int = 10,
        stages: list[list[int]] | tuple = STAGES,
        dense: int = 4096,
        embedding: int = 128,
        dropout: float = 0.5,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for stage in stages:
            for c_out in stage:
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
                c_in = c_out
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        self.grid = nn.AdaptiveAvgPool2d((6, 4))  # (time, frequency) after VGGish's four pools of 96 x 64
        self.dense = nn.Sequential(
            nn.Linear(c_in * 24, dense),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dense, dense),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dense, embedding),
        )
        self.classifier = nn.Linear(embedding, n_classes)
        self.embedding_dims = {"penultimate": embedding}

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named layer's output for patches ``x`` ``(batch, frames, n_mels)``, ``logits`` included."""
        maps = self.grid(self.features(x.unsqueeze(1)))  # (B, C, 6, 4)
        hidden = self.dense(maps.flatten(1))
        return {"logits": self.classifier(F.relu(hidden)), "penultimate": hidden}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits for patches ``x`` ``(batch, frames, n_mels)``."""
        return self.forward_features(x)["logits"]
