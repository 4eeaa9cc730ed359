"""musicnn's VGG baseline: five 3x3 conv blocks with max-pooling, then one dense layer."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from musictag.models.config import VGG_POOLS
from musictag.models.musicnn import TF_BN_EPS

_POOLS = VGG_POOLS


def _out_len(n: int, kernel: int, stride: int) -> int:
    return (n - kernel) // stride + 1


class MusicnnVGG(nn.Module):
    """VGG-like tagger on log-mel patches ``(batch, frames, n_mels)``.

    Parameters
    ----------
    n_classes : int
        Outputs of the dense layer.
    n_frames, n_mels : int
        Input patch size; the dense layer's width depends on it (187 x 96 gives 256).
    filters : int
        Filters of every conv block (128 in the pretrained models).
    """

    def __init__(
        self,
        *,
        n_classes: int = 50,
        n_frames: int = 187,
        n_mels: int = 96,
        filters: int = 128,
        dropout: float = 0.5,
        block_dropout: float = 0.25,
        bn_eps: float = TF_BN_EPS,
    ):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=bn_eps)
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5))
        self.bns = nn.ModuleList(nn.BatchNorm2d(filters, eps=bn_eps) for _ in range(5))
        t, f = n_frames, n_mels
        for (kt, kf), (st, sf) in _POOLS:
            t, f = _out_len(t, kt, st), _out_len(f, kf, sf)
        if t < 1 or f < 1:
            raise ValueError(f"input {n_frames}x{n_mels} is too small for five pooling stages")
        self.classifier = nn.Linear(t * f * filters, n_classes)
        self.block_dropout = nn.Dropout(block_dropout)
        self.dropout = nn.Dropout(dropout)
        self.embedding_dims = {"penultimate": t * f * filters}

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``logits``, ``pool1``..``pool5`` and ``penultimate`` (flattened pool5)."""
        out: dict[str, torch.Tensor] = {}
        h = self.input_bn(x.unsqueeze(1))
        for i, (conv, bn, (kernel, stride)) in enumerate(zip(self.convs, self.bns, _POOLS, strict=True)):
            if i:
                h = self.block_dropout(h)
            h = F.max_pool2d(bn(F.relu(conv(h))), kernel, stride)
            out[f"pool{i + 1}"] = h
        flat = h.permute(0, 2, 3, 1).flatten(1)  # TensorFlow flattens channels-last
        out["penultimate"] = flat
        out["logits"] = self.classifier(self.dropout(flat))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits for patches ``x`` ``(batch, frames, n_mels)``."""
        return self.forward_features(x)["logits"]
