"""Tracks that sound alike: cosine similarity of stored embeddings (the CLI and the server share it)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def nearest(
    paths: list[str], vectors: np.ndarray, vector: np.ndarray, *, exclude: str | None = None
) -> Iterator[tuple[str, float]]:
    """``(path, cosine similarity to vector)`` of every row, most similar first, ``exclude`` left out."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ (vector / max(float(np.linalg.norm(vector)), 1e-12))
    for i in np.argsort(-similarity, kind="stable"):
        if paths[i] != exclude:
            yield paths[i], float(similarity[i])
