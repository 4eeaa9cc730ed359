"""What a model folder's ``config.json`` holds, and the names of a model's representations.

No torch here: the command line and the package's light entry points read these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from musictag.features.config import FrontendConfig

#: Representations a model can return per patch (``musictag embed --layer``).
#: musicnn's VGG: (time, freq) pool sizes and strides after each conv block, as in musicnn's models.vgg
VGG_POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))

LAYERS = ("penultimate", "mean_pool", "max_pool", "taggram", "embedding")


def activation_for(task: str) -> Literal["softmax", "sigmoid"]:
    """The output activation a task implies: one class per item (softmax) or independent tags (sigmoid)."""
    return "softmax" if task == "single-label" else "sigmoid"


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model and feed it audio."""

    name: str
    architecture: str
    labels: list[str]
    model: dict = field(default_factory=dict)  # keyword settings of the architecture
    frontend: dict = field(default_factory=dict)  # FrontendConfig fields
    activation: Literal["sigmoid", "softmax"] = "sigmoid"
    patch_frames: int = 187
    # how a track's scores come from its patches: the mean of the per-patch scores (musicnn), or
    # the activation of the mean logits (exactly a linear head fitted on mean embeddings)
    score_pooling: Literal["mean_scores", "mean_logits"] = "mean_scores"
    patch_hop: float | None = None  # seconds between patches the model was trained and evaluated with
    info: dict = field(default_factory=dict)  # data set, published or measured metrics, provenance

    def frontend_config(self) -> FrontendConfig:
        """The front end's settings as a :class:`~musictag.features.config.FrontendConfig`."""
        return FrontendConfig.from_dict(self.frontend)
