"""Where a concept sounds in a recording: a probe on the model's last hidden layer (or the candidate
layer where the concept's clips separate best from their matched clips), read over the recording's
patches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from musictag.errors import ParameterError
from musictag.explain.activations import check_layers, file_activations, firing_layers, held_out, patch_activations
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


@dataclass
class ConceptProbe:
    """A concept's probe at the layer where it separates the concept best."""

    concept: str
    layer: str
    accuracy: float  # on a held-out third
    model: object  # sklearn LogisticRegression on activations / scale
    scale: float


def fit_probe(
    tagger: Tagger,
    concept: str,
    *,
    bank: dict[str, list[Path]],
    randoms: list[list[Path]],
    matched: list[Path],
    layers: list[str] | None = None,
    seed: int = 0,
) -> ConceptProbe:
    """``concept``'s clips against its matched clips and the first random set, at each candidate layer
    (one forward pass for all); the layer with the best held-out accuracy wins (a third of the clips
    held out, each concept clip together with its matched twin).

    The default candidate is the last hidden layer alone (musicnn's ``penultimate``): the model's own
    summary of a patch, learnt from real recordings. Deeper in the network a probe reads thousands of
    position-wise features, separates rendered clips from their twins perfectly and carries that to
    real music badly: picked by held-out accuracy on the bank, ``midend.2.conv`` (1.00) located a
    distorted guitar in real classical / metal / classical splices at ROC-AUC 0.30, the last hidden
    layer at 0.72 (docs/explanations.md)."""
    from sklearn.linear_model import LogisticRegression

    if concept not in bank:
        raise ParameterError(f"unknown concept {concept!r}; the folder has {', '.join(bank) or 'none'}")
    if tagger.classical is not None:
        raise ParameterError(f"model {tagger.name} is a classical model: it has no layers for concept vectors")
    layers = check_layers(tagger, layers or firing_layers(tagger)[-1:])
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
    train, test = held_out(y, groups, seed)
    best, best_accuracy = None, -1.0
    for k, layer in enumerate(layers):
        x = torch.cat([found[f][k] for f in files]).double().numpy()
        scale = np.abs(x).mean() or 1.0
        fit = LogisticRegression(C=1.0, max_iter=2000).fit(x[train] / scale, y[train])
        accuracy = float((fit.predict(x[test] / scale) == y[test]).mean())
        if accuracy > best_accuracy:
            model = LogisticRegression(C=1.0, max_iter=2000).fit(x / scale, y)
            best, best_accuracy = ConceptProbe(concept, layer, round(accuracy, 4), model, scale), accuracy
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
