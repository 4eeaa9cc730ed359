"""Typed results of tagging and embedding, and their plain-dict form for JSON/CSV."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _ranked(labels: list[str], scores: np.ndarray, top_k: int) -> list[dict]:
    order = np.argsort(-scores, kind="stable")
    if top_k > 0:
        order = order[:top_k]
    return [{"tag": labels[i], "score": round(float(scores[i]), 6)} for i in order]


@dataclass
class TagResult:
    """Tags of one file: mean scores and the per-patch timeline (taggram)."""

    path: str
    model: str
    duration: float
    labels: list[str]
    scores: np.ndarray  # (n_labels,): mean of the per-patch scores
    taggram: np.ndarray  # (n_patches, n_labels)
    patch_starts: np.ndarray  # (n_patches,) seconds
    patch_seconds: float
    warnings: list[str] = field(default_factory=list)  # what makes the scores less trustworthy
    embedding: np.ndarray | None = None  # a layer's mean activation, when asked for (``tag_many(embed=)``)
    descriptors: dict[str, dict] = field(default_factory=dict)  # key, bpm (``musictag.describe``)

    def top(self, k: int = 0) -> list[tuple[str, float]]:
        """Tags sorted by score, best first; ``k = 0`` gives all."""
        return [(row["tag"], row["score"]) for row in _ranked(self.labels, self.scores, k)]

    def to_dict(self, *, top_k: int = 0, timeline: bool = False) -> dict:
        """The result as JSON-ready values (``top_k`` tags, 0 = all; the per-patch timeline if asked)."""
        out = {
            "path": self.path,
            "duration": round(self.duration, 3),
            "model": self.model,
            "tags": _ranked(self.labels, self.scores, top_k),
        }
        out.update(self.descriptors)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if timeline:
            out["timeline"] = [
                {
                    "start": round(float(start), 3),
                    "end": round(min(float(start) + self.patch_seconds, self.duration), 3),
                    "tags": _ranked(self.labels, row, top_k),
                }
                for start, row in zip(self.patch_starts, self.taggram, strict=True)
            ]
        return out


@dataclass
class EmbedResult:
    """One layer's activations for one file: per patch, and their mean."""

    path: str
    model: str
    layer: str
    duration: float
    per_patch: np.ndarray  # (n_patches, dim)
    patch_starts: np.ndarray
    warnings: list[str] = field(default_factory=list)

    @property
    def embedding(self) -> np.ndarray:
        """The mean of the per-patch activations: one vector for the file."""
        return self.per_patch.mean(axis=0)


@dataclass
class FileError:
    """A file that could not be processed, with a one-line reason that names it."""

    path: str
    error: str

    def to_dict(self, **_) -> dict:
        """The result as JSON-ready values (``top_k`` tags, 0 = all; the per-patch timeline if asked)."""
        return {"path": self.path, "error": self.error}
