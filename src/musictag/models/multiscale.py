"""Multi-scale CNN for MagnaTagATune (Dabral, Deshmukh & Malapati, 2018).

The log-mel input (11025 Hz, n_fft 2048, hop 512; a whole ~29 s clip) and two subsampled
copies of it each go through their own convolution branch, so that the three branches see
the music at three temporal scales; their outputs are concatenated depthwise, convolved
further, flattened and classified. Input: ``(batch, frames, n_mels)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv(c_in: int, c_out: int, kernel: tuple[int, int]) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, padding=(kernel[0] // 2, kernel[1] // 2))


class MultiScaleCNN(nn.Module):
    """Three-scale CNN tagger.

    Parameters
    ----------
    n_classes : int
        Outputs (the top-50 tags).
    n_mels, n_frames : int
        Input size; the flattened layer depends on it (128 x 628 for a 29.1 s clip).
    width : int
        Channels of each branch's output and of the shared convolutions (70 in the paper).
    hidden : int
        Units of the dense layer (500).
    dropout : float
        Dropout after the flattened batch norm (0.6).
    """

    def __init__(
        self,
        *,
        n_classes: int = 50,
        n_mels: int = 128,
        n_frames: int = 628,
        width: int = 70,
        hidden: int = 500,
        dropout: float = 0.6,
    ):
        super().__init__()
        # branch 1 works on the full resolution, 2 on a (2, 4)-average, 3 on a further (2, 4)-max
        self.branch1 = nn.ModuleList([_conv(1, 50, (3, 7)), _conv(50, 100, (3, 5)), _conv(100, width, (3, 3))])
        self.branch2 = nn.ModuleList([_conv(1, 100, (3, 5)), _conv(100, width, (3, 3))])
        self.branch3 = _conv(1, width, (3, 3))
        self.merge = _conv(3 * width, width, (3, 3))
        self.top = _conv(width, width, (3, 3))
        flat = width * (n_mels // 16) * (n_frames // 64)
        if flat == 0:
            raise ValueError(f"input {n_mels} mels x {n_frames} frames is too small (needs 16 x 64)")
        self.flat_bn = nn.BatchNorm1d(flat, eps=1e-3)
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(flat, hidden)
        self.classifier = nn.Linear(hidden, n_classes)
        self.embedding_dims = {"penultimate": hidden}
        self.input_frames = n_frames  # the flattened layer fixes the patch length

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named layer's output for patches ``x`` ``(batch, frames, n_mels)``, ``logits`` included."""
        x = x.transpose(1, 2).unsqueeze(1)  # (B, 1, mels, frames): pools are (frequency, time)
        x1 = x
        for conv, pool in zip(self.branch1, ((2, 4), (2, 4), (2, 2)), strict=True):
            x1 = F.max_pool2d(F.relu(conv(x1)), pool)
        coarse = F.avg_pool2d(x, (2, 4))
        coarser = F.max_pool2d(coarse, (2, 4))
        x2 = coarse
        for conv, pool in zip(self.branch2, ((2, 4), (2, 2)), strict=True):
            x2 = F.max_pool2d(F.relu(conv(x2)), pool)
        x3 = F.max_pool2d(F.relu(self.branch3(coarser)), (2, 2))
        merged = F.relu(self.merge(torch.cat([x1, x2, x3], dim=1)))
        top = F.max_pool2d(F.relu(self.top(merged)), (2, 2))
        hidden = F.relu(self.dense(self.dropout(self.flat_bn(top.flatten(1)))))
        return {"logits": self.classifier(hidden), "penultimate": hidden}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits for patches ``x`` ``(batch, frames, n_mels)``."""
        return self.forward_features(x)["logits"]
