"""Model zoo: every architecture is built by name from a config dict."""

from __future__ import annotations

from torch import nn

from musictag.errors import ParameterError
from musictag.models.musicnn import MusiCNN
from musictag.models.transfer import TransferHead
from musictag.models.vgg import MusicnnVGG

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "musicnn": MusiCNN,
    "vgg": MusicnnVGG,
    "musicnn-transfer": TransferHead,
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


__all__ = ["ARCHITECTURES", "MusiCNN", "MusicnnVGG", "TransferHead", "build_model"]
