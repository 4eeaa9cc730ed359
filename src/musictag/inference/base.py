"""What every tagger (torch, ONNX, Ray) takes from its model's config: names, labels, patch geometry."""

from __future__ import annotations

import math

from musictag.errors import ParameterError
from musictag.models.config import ModelConfig


class ConfiguredTagger:
    """Sets ``patch_frames``, ``frame_seconds`` and ``hop_frames`` from ``config`` and a hop in seconds
    (default: the model's own ``patch_hop``, else one patch: no overlap, as musicnn)."""

    config: ModelConfig

    def _set_geometry(self, config: ModelConfig, hop: float | None) -> None:
        if hop is not None and not 0 < hop < math.inf:  # also refuses nan
            raise ParameterError(f"hop must be a positive number of seconds, got {hop}")
        self.config = config
        frontend = config.frontend_config()
        self.patch_frames = config.patch_frames
        self.frame_seconds = frontend.hop_length / frontend.sample_rate
        hop = config.patch_hop if hop is None else hop
        self.hop_frames = self.patch_frames if hop is None else max(1, round(hop / self.frame_seconds))

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def labels(self) -> list[str]:
        return list(self.config.labels)
