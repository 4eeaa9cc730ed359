"""Per-feature contributions of a classical model (handcrafted descriptors, scikit-learn pipeline).

Each descriptor is set to the training mean (zero after the pipeline's StandardScaler) and the
target's score is computed again: its contribution is how much the score falls. For a linear
model's decision value this is exactly ``coef * standardised value``; for an RBF SVM it is the same
ablation, one feature at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musictag.errors import ParameterError


@dataclass
class FeatureExplanation:
    """A classical model's score for a target on one file and each descriptor's contribution to it."""

    path: str
    model: str
    target: str
    score: float
    names: list[str]
    contributions: np.ndarray  # (features,) score drop when the feature is set to its training mean

    def top(self, k: int = 10) -> list[dict]:
        """The ``k`` descriptors that move the score most (either way), largest first."""
        order = np.argsort(-np.abs(self.contributions), kind="stable")[:k]
        return [{"feature": self.names[i], "contribution": round(float(self.contributions[i]), 6)} for i in order]

    def to_dict(self, *, top_k: int = 10) -> dict:
        """The explanation as JSON-ready values."""
        contributions = dict(zip(self.names, np.round(self.contributions, 6).tolist(), strict=True))
        return {
            "path": self.path,
            "model": self.model,
            "target": self.target,
            "score": round(self.score, 6),
            "method": "mean ablation",
            "top_features": self.top(top_k),
            "contributions": contributions,
        }


def explain_features(tagger, path: str, *, target: str | None = None) -> FeatureExplanation:
    """Contributions of each descriptor to ``tagger``'s (a classical model's) score for ``target``."""
    from musictag.audio.stream import load
    from musictag.features.handcrafted import describe

    model = tagger.classical
    audio = load(path, sample_rate=model.sample_rate)
    vector, names = describe(audio, model.sample_rate, groups=tuple(model.groups))
    scores = model.probabilities(vector)[0]
    index = int(scores.argmax()) if target is None else _index(tagger, target)
    scaler = model.pipeline[0]
    ablated = np.repeat(vector[None], len(vector), axis=0)
    means = getattr(scaler, "mean_", np.zeros(len(vector)))
    ablated[np.arange(len(vector)), np.arange(len(vector))] = means  # row j: feature j at its training mean
    drops = scores[index] - model.probabilities(ablated)[:, index]
    return FeatureExplanation(str(path), tagger.name, tagger.labels[index], float(scores[index]), list(names), drops)


def _index(tagger, target: str) -> int:
    if target not in tagger.labels:
        raise ParameterError(f"unknown target {target!r} for {tagger.name}; its labels: {', '.join(tagger.labels)}")
    return tagger.labels.index(target)
