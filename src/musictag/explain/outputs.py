"""An explanation's files: a PNG, a JSON and two listenable WAVs (the most relevant segments alone,
and the track with them removed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from musictag.explain.relevance import Explanation
from musictag.plots import relevance_png
from musictag.utils.atomic import atomic_open, atomic_path


def write_explanation(
    explanation: Explanation, out: str | Path, *, sample_rate: int, top_k: int = 3, stem: str | None = None
) -> dict[str, Path]:
    """Write ``STEM.png``, ``STEM.json``, ``STEM.top.wav`` and ``STEM.without-top.wav`` under ``out``
    (``stem``: the audio file's, unless given)."""
    import soundfile as sf

    from musictag.audio.stream import load

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem or Path(explanation.path).stem
    paths = {
        kind: out / f"{stem}{suffix}"
        for kind, suffix in (("png", ".png"), ("json", ".json"), ("top", ".top.wav"), ("without", ".without-top.wav"))
    }
    relevance_png(
        explanation.mel,
        explanation.relevance,
        explanation.frame_seconds,
        explanation.over_time,
        explanation.segment_seconds,
        paths["png"],
        title=f"{stem}: {explanation.target} ({explanation.method}, explaining {explanation.quantity})",
    )
    with atomic_open(paths["json"], encoding="utf-8") as handle:
        json.dump(explanation.to_dict(top_k=top_k), handle, indent=1)
    audio = load(explanation.path, sample_rate=sample_rate)
    top = sorted(explanation.top(top_k), key=lambda s: s["start"])
    spans = [(int(s["start"] * sample_rate), int(s["end"] * sample_rate)) for s in top]
    gap = np.zeros(int(0.1 * sample_rate), np.float32)  # a short pause between the segments
    alone = [piece for a, b in spans for piece in (audio[a:b], gap)]
    without = audio.copy()
    for a, b in spans:
        without[a:b] = 0
    for kind, samples in (("top", np.concatenate(alone) if alone else gap), ("without", without)):
        with atomic_path(paths[kind]) as tmp:
            sf.write(tmp, samples, sample_rate, format="WAV")
    return paths


def write_feature_explanation(
    explanation, out: str | Path, *, top_k: int = 10, stem: str | None = None
) -> dict[str, Path]:
    """A classical model's explanation: ``STEM.json`` and the bar chart ``STEM.png``."""
    from musictag.plots import contributions_png

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem or Path(explanation.path).stem
    paths = {"png": out / f"{stem}.png", "json": out / f"{stem}.json"}
    contributions_png(
        explanation.names,
        explanation.contributions,
        paths["png"],
        title=f"{stem}: {explanation.target} ({explanation.model})",
        top=max(top_k, 10),
    )
    with atomic_open(paths["json"], encoding="utf-8") as handle:
        json.dump(explanation.to_dict(top_k=top_k), handle, indent=1)
    return paths
