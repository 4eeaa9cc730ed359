"""MusiCNN (Pons & Serra, 2019): musically motivated front end, dense mid end, pooling back end.

Layer order, paddings and batch-norm epsilon follow the original TensorFlow model so
that its checkpoints load unchanged (see :mod:`musictag.pretrained.convert`).
Input: log-mel patches ``(batch, frames, n_mels)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from musictag.errors import ParameterError
from musictag.models.banded_conv import BandedConvMax

#: tf.compat.v1.layers.batch_normalization's default epsilon.
TF_BN_EPS = 1e-3


class _ConvReluBN(nn.Module):
    """conv -> ReLU -> batch norm, the unit every musicnn block is made of."""

    def __init__(self, conv: nn.Module, channels: int, bn_eps: float):
        super().__init__()
        self.conv = conv
        self.bn = (nn.BatchNorm2d if isinstance(conv, nn.Conv2d) else nn.BatchNorm1d)(channels, eps=bn_eps)
        self._kernel_key: tuple | None = None  # parameter versions the cached inference kernel was built from

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))

    def forward_max(self, x: torch.Tensor) -> torch.Tensor:
        """``forward(x).amax(-1)``, computed cheaply at inference.

        ReLU and an affine batch norm are monotonic per channel, so the maximum can be
        taken right after the convolution: of the conv output for channels whose batch-norm
        scale is positive, of its negation (via negated filters) for the others. This skips
        ReLU and batch norm on the full maps, which cost a third of the model's time; the
        convolution itself runs as :class:`~musictag.models.banded_conv.BandedConvMax`.
        """
        if self.training or torch.onnx.is_in_onnx_export():  # the export traces plain operators
            return self(x).amax(-1)
        # a kernel built under inference mode cannot take part in autograd (input gradients: TCAV, explain)
        key = (
            self.conv.weight._version,
            self.conv.bias._version,
            self.bn.weight._version,
            torch.is_inference_mode_enabled(),
        )
        if self._kernel_key != key:  # parameters changed (loaded, trained): rebuild the kernel
            sign = torch.sign(self.bn.weight.detach())
            self._kernel = BandedConvMax(self.conv.weight * sign.view(-1, 1, 1, 1), self.conv.bias * sign)
            self._sign, self._kernel_key = sign.view(-1, 1), key
        bn = self.bn
        extreme = self._kernel(x) * self._sign
        return F.batch_norm(F.relu(extreme), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


class MusiCNN(nn.Module):
    """The musicnn architecture.

    Parameters
    ----------
    n_classes : int
        Outputs of the last dense layer (50 for the MTT/MSD taggers).
    n_mels : int
        Mel bands of the input; the timbral kernels span 40 % and 70 % of them.
    timbral_filters, temporal_filters : int
        Filters per timbral (7 x 0.4F, 7 x 0.7F) and temporal (128, 64, 32 x 1) branch.
    midend_filters : int
        Filters of each of the three 7-wide mid-end convolutions.
    backend_units : int
        Width of the penultimate dense layer.
    dropout : float
        Dropout before both dense layers (training only).
    input_norm : {"none", "level", "band"}
        Per-patch normalisation before the input batch norm: ``level`` subtracts the patch's
        mean log-mel value (its loudness), ``band`` each band's mean over time (its long-term
        spectrum, like cepstral mean normalisation). Both hide recording-chain differences
        (level, equalisation) from the network; the original musicnn uses neither.
    """

    def __init__(
        self,
        *,
        n_classes: int = 50,
        n_mels: int = 96,
        timbral_filters: int = 204,
        temporal_filters: int = 51,
        midend_filters: int = 64,
        backend_units: int = 200,
        dropout: float = 0.5,
        bn_eps: float = TF_BN_EPS,
        input_norm: str = "none",
    ):
        super().__init__()
        if input_norm not in ("none", "level", "band"):
            raise ParameterError(f"input_norm must be none, level or band, not {input_norm!r}")
        self.input_norm = input_norm
        self.input_bn = nn.BatchNorm2d(1, eps=bn_eps)
        # The input batch norm's scale and shift (two numbers, loaded from checkpoints) stay fixed in
        # training: their gradient needs the gradient of the front-end convolutions with respect to
        # their input, a single-channel transposed convolution that was 75 % of a training step.
        self.input_bn.requires_grad_(False)
        self.timbral = nn.ModuleList(
            _ConvReluBN(nn.Conv2d(1, timbral_filters, (7, int(share * n_mels))), timbral_filters, bn_eps)
            for share in (0.4, 0.7)
        )
        self.temporal_kernels = (128, 64, 32)
        self.temporal = nn.ModuleList(
            _ConvReluBN(nn.Conv2d(1, temporal_filters, (k, 1)), temporal_filters, bn_eps) for k in self.temporal_kernels
        )
        frontend_channels = 2 * timbral_filters + 3 * temporal_filters
        self.midend = nn.ModuleList(
            _ConvReluBN(nn.Conv1d(c_in, midend_filters, 7, padding=3), midend_filters, bn_eps)
            for c_in in (frontend_channels, midend_filters, midend_filters)
        )
        self.pool_channels = frontend_channels + 3 * midend_filters
        self.backend_bn = nn.BatchNorm1d(2 * self.pool_channels, eps=bn_eps)
        self.penultimate = nn.Linear(2 * self.pool_channels, backend_units)
        self.penultimate_bn = nn.BatchNorm1d(backend_units, eps=bn_eps)
        self.classifier = nn.Linear(backend_units, n_classes)
        self.dropout = nn.Dropout(dropout)
        self.embedding_dims = {
            "penultimate": backend_units,
            "mean_pool": self.pool_channels,
            "max_pool": self.pool_channels,
        }

    #: frames each side of an output frame that the timbral front end reads (its filters are 7 frames tall)
    TIMBRAL_REACH = 3

    def timbral_front(self, x: torch.Tensor, *, frames: tuple[int, int] | None = None) -> torch.Tensor:
        """The timbral branches' maps ``(B, C, T)`` of patches ``x``, or only output frames ``[start, stop)``.

        A change to input frames ``[a, b)`` moves only output frames ``[a - 3, b + 3)``, so occlusion
        recomputes those alone (this branch is most of the model's time). With ``input_norm`` every frame
        depends on the whole patch, so ``frames`` is refused there.
        """
        if frames is not None and self.input_norm != "none":
            raise ParameterError("timbral_front(frames=...) needs input_norm 'none'")
        return self._timbral(self._normalised(x), frames)

    def _normalised(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_norm != "none":
            x = x - x.mean(dim=(1, 2) if self.input_norm == "level" else 1, keepdim=True)
        return self.input_bn(x.unsqueeze(1))  # (B, 1, T, F)

    def _timbral(self, x: torch.Tensor, frames: tuple[int, int] | None = None) -> torch.Tensor:
        start, stop = frames or (0, x.shape[2])
        reach = self.TIMBRAL_REACH  # 'same' padding in time only: frequency is pooled away
        padded = F.pad(x, (0, 0, reach, reach))[:, :, start : stop + 2 * reach]
        return torch.cat([block.forward_max(padded) for block in self.timbral], dim=1)

    def forward_features(self, x: torch.Tensor, *, timbral: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Run the network and return every named representation.

        Returns a dict with ``logits`` ``(B, n_classes)``, ``penultimate`` ``(B, units)``,
        ``mean_pool`` and ``max_pool`` ``(B, 753)``, ``timbral``/``temporal``
        ``(B, T, C)`` and the mid-end maps ``cnn1``..``cnn3`` ``(B, T, 64)``. ``timbral``: the
        maps :meth:`timbral_front` gives for ``x``, when the caller already has them.
        """
        x = self._normalised(x)
        if timbral is None:
            timbral = self._timbral(x)  # (B, C, T)
        temporal = []
        for k, block in zip(self.temporal_kernels, self.temporal, strict=True):
            before = (k - 1) // 2  # TensorFlow's 'same' puts the extra pad at the end
            temporal.append(block.forward_max(F.pad(x, (0, 0, before, k - 1 - before))))
        front = torch.cat([timbral, *temporal], dim=1)  # (B, 561, T)

        cnn1 = self.midend[0](front)
        cnn2 = self.midend[1](cnn1) + cnn1
        cnn3 = self.midend[2](cnn2) + cnn2
        maps = torch.cat([front, cnn1, cnn2, cnn3], dim=1)  # (B, 753, T)

        max_pool, mean_pool = maps.amax(dim=2), maps.mean(dim=2)
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF order: interleaved
        hidden = self.penultimate_bn(F.relu(self.penultimate(self.dropout(self.backend_bn(pooled)))))
        logits = self.classifier(self.dropout(hidden))
        return {
            "logits": logits,
            "penultimate": hidden,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "timbral": timbral.transpose(1, 2),
            "temporal": torch.cat(temporal, dim=1).transpose(1, 2),
            "cnn1": cnn1.transpose(1, 2),
            "cnn2": cnn2.transpose(1, 2),
            "cnn3": cnn3.transpose(1, 2),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits for patches ``x`` ``(batch, frames, n_mels)``."""
        return self.forward_features(x)["logits"]
