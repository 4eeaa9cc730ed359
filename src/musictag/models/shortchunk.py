"""Short-chunk CNN and Short-chunk ResNet (Won et al., 2020, "Evaluation of CNN-based
automatic music tagging models").

Seven 3x3 stages (128-128-256-256-256-256-512 channels), each halving time and frequency,
then a global max over time, a 512-unit dense layer and the classifier. Input: log-mel
patches ``(batch, frames, n_mels)``, ~3.7 s at 16 kHz / hop 256 (232 frames), 128 mels.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

CHANNELS = (128, 128, 256, 256, 256, 256, 512)


class _ConvStage(nn.Module):
    """3x3 conv -> batch norm -> ReLU -> 2x2 max pool."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(self.bn(self.conv(x))), 2, ceil_mode=True)


class _ResStage(nn.Module):
    """Two 3x3 convs, the first with stride 2, plus a strided projection shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class ShortChunkCNN(nn.Module):
    """Short-chunk CNN (``residual=False``) or Short-chunk ResNet (``residual=True``).

    Parameters
    ----------
    n_classes : int
        Outputs.
    n_mels : int
        Mel bands of the input (only used to normalise it).
    channels : sequence of int
        Channels of each stage; one stage per entry.
    dense : int
        Width of the penultimate dense layer.
    dropout : float
        Dropout before the classifier.
    residual : bool
        Residual stages (the ResNet variant).
    """

    def __init__(
        self,
        *,
        n_classes: int = 50,
        n_mels: int = 128,
        channels: list[int] | tuple[int, ...] = CHANNELS,
        dense: int = 512,
        dropout: float = 0.5,
        residual: bool = False,
    ):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1)
        stage = _ResStage if residual else _ConvStage
        widths = [1, *channels]
        self.stages = nn.Sequential(*(stage(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)))
        self.dense = nn.Linear(widths[-1], dense)
        self.dense_bn = nn.BatchNorm1d(dense)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(dense, n_classes)
        self.embedding_dims = {"penultimate": dense, "max_pool": widths[-1]}

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named layer's output for patches ``x`` ``(batch, frames, n_mels)``, ``logits`` included."""
        maps = self.stages(self.input_bn(x.transpose(1, 2).unsqueeze(1)))  # (B, C, F', T')
        pooled = maps.amax(dim=(2, 3))  # frequency is (nearly) pooled away; the max over time remains
        hidden = F.relu(self.dense_bn(self.dense(pooled)))
        return {"logits": self.classifier(self.dropout(hidden)), "penultimate": hidden, "max_pool": pooled}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits for patches ``x`` ``(batch, frames, n_mels)``."""
        return self.forward_features(x)["logits"]


class ShortChunkResNet(ShortChunkCNN):
    """:class:`ShortChunkCNN` with residual stages."""

    def __init__(self, **settings):
        super().__init__(residual=True, **settings)
