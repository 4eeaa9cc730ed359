"""A frame-level CNN: a score per frame from a quarter second of context, the clip's score their mean.

Its evidence is local by construction (a frame's score sees about 0.25 s), so where it finds a sound
can be checked against where the sound is: the explanation benchmark's concept detectors are these.
Input: log-mel patches ``(batch, frames, n_mels)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class FramewiseCNN(nn.Module):
    """Three 3x3 conv stages pooling frequency only, a temporal conv (batch-normed: without it training on
    weak clip labels stalls at chance), a 1x1 classifier per frame, mean over time.

    Parameters
    ----------
    n_classes : int
        Outputs.
    n_mels : int
        Mel bands of the input.
    channels : int
        Channels of each conv stage.
    hidden : int
        Channels of the temporal conv (the per-frame embedding).
    context : int
        Frames the temporal conv sees (odd).
    """

    def __init__(self, *, n_classes: int = 2, n_mels: int = 96, channels: int = 16, hidden: int = 64, context: int = 9):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1)
        stages, c_in = [], 1
        for _ in range(3):
            stages += [
                nn.Conv2d(c_in, channels, 3, padding=1),
                nn.BatchNorm2d(channels),
                nn.ReLU(),
                nn.MaxPool2d((1, 2)),
            ]
            c_in = channels
        self.stages = nn.Sequential(*stages)
        self.temporal = nn.Conv1d(channels * (n_mels // 8), hidden, context, padding=context // 2)
        self.temporal_bn = nn.BatchNorm1d(hidden)
        self.classifier = nn.Conv1d(hidden, n_classes, 1)
        self.embedding_dims = {"penultimate": hidden}

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named layer's output for patches ``x`` ``(batch, frames, n_mels)``, ``logits`` included."""
        maps = self.stages(self.input_bn(x.unsqueeze(1)))  # (B, C, T, F')
        frames = F.relu(self.temporal_bn(self.temporal(maps.permute(0, 1, 3, 2).flatten(1, 2))))  # (B, hidden, T)
        frame_logits = self.classifier(frames)
        return {"logits": frame_logits.mean(-1), "penultimate": frames.mean(-1), "frame_logits": frame_logits}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits for patches ``x`` ``(batch, frames, n_mels)``."""
        return self.forward_features(x)["logits"]
