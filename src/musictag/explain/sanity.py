"""The model-randomisation sanity check (Adebayo et al. 2018): an explanation that stays the same when
the model's weights are replaced by random ones explains the input, not the model.

:func:`sanity_correlation` explains a file with the trained model and with a copy whose every
learned layer is re-initialised, and returns the Spearman rank correlation of the two relevance
maps (per segment and band); a map that turns constant (Grad-CAM's can be all zero after its ReLU)
shares no ranking and counts as 0. A method passes below 0.3.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from musictag.explain.relevance import explain
from musictag.inference.tagger import Tagger

PASS_BELOW = 0.3


def randomized(tagger: Tagger, *, seed: int = 0) -> Tagger:
    """A tagger with the same architecture and front end whose learned layers are re-initialised."""
    module = copy.deepcopy(tagger.module)
    torch.manual_seed(seed)
    for layer in module.modules():
        if hasattr(layer, "reset_parameters") and layer is not module:
            layer.reset_parameters()
    return Tagger.from_model(module.eval(), tagger.config)


def sanity_correlation(
    tagger: Tagger, path: str, *, method: str, target: str | None = None, seed: int = 0, trained=None
) -> float:
    """Spearman rank correlation of the relevance per (segment, band) of the trained and the randomised
    model (``trained``: the trained model's explanation when already made)."""
    from scipy.stats import spearmanr

    trained = trained or explain(tagger, path, target=target, method=method)
    shuffled = explain(
        randomized(tagger, seed=seed), path, target=trained.target, method=method, quantity=trained.quantity
    )
    a, b = trained.per_band().ravel(), shuffled.per_band().ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)
