"""Where a concept sounds in a recording: a probe on the layer where the concept's clips separate best
from their matched clips, read over the recording's patches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from musictag.errors import ParameterError
from musictag.explain.activations import check_layers, default_layers, file_activations, held_out, patch_activations
from musictag.inference.tagger import Tagger


@dataclass
class Presence:
    """A concept's probe probability over one recording's patches."""

    path: str
    concept: str
    layer: str
    accuracy: float
    starts: list[float]
    patch_seconds: float
    probability: list[float]
    mel: np.ndarray | None = field(default=None, repr=False)  # (frames, n_mels) the file's log-mel, end to end
    duration: float | None = None  # spans end here (a clip shorter than a patch is repeated to fill one)

    def spans(self, threshold: float = 0.5) -> list[tuple[float, float]]:
        """Where the probability is above ``threshold``: merged (start, end) seconds of patch centres' hops,
        within the file."""
        out: list[list[float]] = []
        hop = self.starts[1] - self.starts[0] if len(self.starts) > 1 else self.patch_seconds
        for start, p in zip(self.starts, self.probability, strict=True):
            centre = start + self.patch_seconds / 2
            if p >= threshold:
                if out and centre - hop / 2 <= out[-1][1] + 1e-9:
                    out[-1][1] = centre + hop / 2
                else:
                    out.append([max(0.0, centre - hop / 2), centre + hop / 2])
        if self.duration is not None:
            out = [[a, min(b, self.duration)] for a, b in out if a < self.duration]
        return [(round(a, 3), round(b, 3)) for a, b in out]

    def to_dict(self) -> dict:
        """The presence as JSON-ready values: each patch's probability and the merged spans."""
        return {
            "path": self.path,
            "concept": self.concept,
            "layer": self.layer,
            "probe_accuracy": self.accuracy,
            "patch_seconds": self.patch_seconds,
            "patches": [
                {"start": round(s, 3), "probability": round(p, 4)}
                for s, p in zip(self.starts, self.probability, strict=True)
            ],
            "spans": self.spans(),
        }


PROBES = ("pattern", "logistic")


@dataclass
class ConceptProbe:
    """A concept's probe at the layer where it separates the concept best."""

    concept: str
    layer: str
    accuracy: float  # on a held-out third
    model: object  # predict_proba / predict on activations / scale
    scale: float
    kind: str = "pattern"


class _Projected:
    """A pattern probe: activations projected on the concept's mean change (its clips' mean less its
    matched clips'), a one-feature logistic regression on the projection giving the probability."""

    def __init__(self, direction: np.ndarray, x: np.ndarray, y: np.ndarray):
        from sklearn.linear_model import LogisticRegression

        self.direction, self.centre, self.spread = direction, 0.0, 1.0
        projected = self._project(x)
        self.centre, self.spread = float(projected.mean()), float(projected.std()) or 1.0
        self.fit = LogisticRegression(C=1.0, max_iter=2000).fit(self._project(x), y)

    def _project(self, x: np.ndarray) -> np.ndarray:  # standardised, so the regression's penalty is fair
        return ((x @ self.direction - self.centre) / self.spread)[:, None]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Both classes' probabilities per row, as scikit-learn gives them."""
        return self.fit.predict_proba(self._project(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The class per row."""
        return self.fit.predict(self._project(x))


def _probe(kind: str, x: np.ndarray, y: np.ndarray, twins: np.ndarray):
    """A probe of ``kind`` fitted on rows ``x`` (``y`` 1 for the concept); ``twins`` marks the matched
    clips' rows, the pattern's other side when there are any."""
    from sklearn.linear_model import LogisticRegression

    if kind == "logistic":
        return LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    other = twins if twins.any() else y == 0
    return _Projected(x[y == 1].mean(axis=0) - x[other].mean(axis=0), x, y)


def fit_probe(
    tagger: Tagger,
    concept: str,
    *,
    bank: dict[str, list[Path]],
    randoms: list[list[Path]],
    matched: list[Path],
    layers: list[str] | None = None,
    kind: str = "pattern",
    seed: int = 0,
) -> ConceptProbe:
    """``concept``'s clips against its matched clips and the first random set, at each candidate layer
    (one forward pass for all); the layer with the best held-out accuracy wins (a third of the clips
    held out, each concept clip together with its matched twin).

    ``kind``: ``pattern`` (the default) projects on the concept's mean change, what the concept alone
    adds to its clips; ``logistic`` is a logistic regression on every feature, which may also learn
    what tells the rendered clips from the random set. On real recordings with a concept mixed in or
    spliced in, ``musictag concepts benchmark`` measures both."""
    if kind not in PROBES:
        raise ParameterError(f"unknown probe {kind!r}; choose from {', '.join(PROBES)}")
    if concept not in bank:
        raise ParameterError(f"unknown concept {concept!r}; the folder has {', '.join(bank) or 'none'}")
    if tagger.classical is not None:
        raise ParameterError(f"model {tagger.name} is a classical model: it has no layers for concept vectors")
    layers = check_layers(tagger, layers or default_layers(tagger))
    negatives = matched + [p for r in randoms[:1] for p in r]
    if not negatives:
        raise ParameterError("locating a concept needs negatives: matched clips or a random set in the folder")
    files = bank[concept] + negatives
    found = file_activations(tagger, layers, files)
    counts = [len(found[f][0]) for f in files]  # patches per clip
    y = np.repeat(np.r_[np.ones(len(bank[concept])), np.zeros(len(negatives))], counts)
    # clip j of the concept and its matched twin j are one group; every other clip is its own
    twin = {len(bank[concept]) + j: j for j in range(len(matched))} if len(matched) == len(bank[concept]) else {}
    groups = np.repeat([twin.get(i, i) for i in range(len(files))], counts)
    twins = np.repeat([len(bank[concept]) <= i < len(bank[concept]) + len(matched) for i in range(len(files))], counts)
    train, test = held_out(y, groups, seed)
    best, best_accuracy = None, -1.0
    for k, layer in enumerate(layers):
        x = torch.cat([found[f][k] for f in files]).double().numpy()
        scale = np.abs(x).mean() or 1.0
        fit = _probe(kind, x[train] / scale, y[train], twins[train])
        accuracy = float((fit.predict(x[test] / scale) == y[test]).mean())
        if accuracy > best_accuracy:
            model = _probe(kind, x / scale, y, twins)
            best, best_accuracy = ConceptProbe(concept, layer, round(accuracy, 4), model, scale, kind), accuracy
    return best


def locate(tagger: Tagger, path: str, probe: ConceptProbe, *, hop: float = 0.5) -> Presence:
    """The concept's probe probability over ``path``'s patches, every ``hop`` seconds."""
    hopped = tagger.model.with_hop(hop)
    patches, duration = hopped.file_patches(path)
    activations = patch_activations(tagger, [probe.layer], patches)[0].double().numpy()
    probability = probe.model.predict_proba(activations / probe.scale)[:, 1]
    step = hopped.hop_frames * hopped.frame_seconds
    # each patch's first hop of frames, then the last patch whole: the file's log-mel without a second decode
    head = min(hopped.hop_frames, hopped.patch_frames)
    mel = torch.cat([patches[:-1, :head].reshape(-1, patches.shape[-1]), patches[-1]]).numpy()
    mel = mel[: max(1, round(duration / hopped.frame_seconds))]  # a short clip's repeats are not the file
    return Presence(
        str(path),
        probe.concept,
        probe.layer,
        probe.accuracy,
        [k * step for k in range(len(patches))],
        hopped.patch_frames * hopped.frame_seconds,
        [float(p) for p in probability],
        mel,
        duration,
    )
