"""The model zoo: every architecture, built by name from a config dict."""

from __future__ import annotations

from torch import nn

from musictag.errors import ParameterError
from musictag.models.ast import AST
from musictag.models.backbone_head import TransferHead
from musictag.models.framewise import FramewiseCNN
from musictag.models.multiscale import MultiScaleCNN
from musictag.models.musicnn import MusiCNN
from musictag.models.shortchunk import ShortChunkCNN, ShortChunkResNet
from musictag.models.vgg import MusicnnVGG
from musictag.models.vggish import VGGish

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "musicnn": MusiCNN,
    "vgg": MusicnnVGG,
    "transfer": TransferHead,
    "multiscale-cnn": MultiScaleCNN,
    "shortchunk-cnn": ShortChunkCNN,
    "shortchunk-res": ShortChunkResNet,
    "vggish": VGGish,
    "ast": AST,
    "framewise-cnn": FramewiseCNN,
}


def build_model(architecture: str, **config) -> nn.Module:
    """Instantiate ``architecture`` with keyword settings ``config``."""
    try:
        cls = ARCHITECTURES[architecture]
    except KeyError:
        raise ParameterError(f"unknown architecture {architecture!r}; choose from {', '.join(ARCHITECTURES)}") from None
    try:
        return cls(**config)
    except TypeError as exc:
        raise ParameterError(f"bad settings for {architecture}: {exc}") from None
