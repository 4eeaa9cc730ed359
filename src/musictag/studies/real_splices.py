"""Explanations scored on real recordings: A-B-A splices of real tracks, where the evidence for the target
lies in B alone.

Each splice joins a stretch of one track (A), a stretch of a track of another genre (B) and another
stretch of A, each 5-9 s, level-matched (the same RMS) with 50-ms crossfades. For a pretrained
tagger the target is the tag that the model's own per-patch scores put on B and not on A (the largest
margin between B's lowest patch score and A's highest, at least ``margin``); for a genre model, B's
genre. A method is right when its relevance over time lies on B: segment ROC-AUC (segments at least
half inside B against the rest), the pointing game (the top segment inside B), and deletion AUC (the
target's mean score while segments are silenced in the method's order; lower is better), each as a
mean over the splices with a 95 % interval.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

from musictag.errors import ParameterError
from musictag.utils.atomic import atomic_open, atomic_path

CROSSFADE = 0.05  # seconds
SEGMENT = (5.0, 9.0)  # seconds of A, B and A again


def _stretch(audio: np.ndarray, seconds: float, rate: int, rng: random.Random) -> np.ndarray:
    length = min(len(audio), int(seconds * rate))
    start = rng.randrange(0, len(audio) - length + 1)
    return audio[start : start + length]


def rms(x: np.ndarray) -> float:
    """Root mean square of ``x``, never zero (a silent stretch divides safely)."""
    return float(np.sqrt(np.mean(np.square(x)) + 1e-12))


def with_headroom(audio: np.ndarray) -> np.ndarray:
    """``audio`` scaled down to a 0.9 peak when it goes over (a mix that would clip), else unchanged."""
    peak = float(np.abs(audio).max())
    return audio * np.float32(0.9 / peak) if peak > 0.9 else audio


def _join(x: np.ndarray, y: np.ndarray, fade: int) -> np.ndarray:
    """``x`` then ``y``, overlapping by ``fade`` samples with a linear crossfade."""
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    middle = x[-fade:] * ramp[::-1] + y[:fade] * ramp
    return np.concatenate([x[:-fade], middle, y[fade:]])


def splice(a: np.ndarray, b: np.ndarray, rate: int, rng: random.Random) -> tuple[np.ndarray, tuple[float, float]]:
    """A-B-A of two mono tracks at ``rate``: (audio, B's span in seconds, from the middles of the fades)."""
    first, last = (_stretch(a, rng.uniform(*SEGMENT), rate, rng).astype(np.float32) for _ in range(2))
    middle = _stretch(b, rng.uniform(*SEGMENT), rate, rng).astype(np.float32)
    middle = middle * np.float32(rms(np.concatenate([first, last])) / rms(middle))  # level-matched
    fade = int(CROSSFADE * rate)
    head = _join(first, middle, fade)
    span = ((len(first) - fade / 2) / rate, (len(head) - fade / 2) / rate)
    out = _join(head, last, fade)
    return with_headroom(out), span


def pick_target(tagger, audio: np.ndarray, rate: int, span: tuple[float, float], *, margin: float = 0.1) -> int | None:
    """The label the model puts on B and not on A by its own per-patch scores, or None."""
    result = tagger.tag(audio, sample_rate=rate)
    starts, seconds = result.patch_starts, result.patch_seconds
    inside = (starts >= span[0]) & (starts + seconds <= span[1])
    outside = (starts + seconds <= span[0]) | (starts >= span[1])
    if not inside.any() or not outside.any():
        return None
    gap = result.taggram[inside].min(axis=0) - result.taggram[outside].max(axis=0)
    best = int(np.argmax(gap))
    return best if gap[best] >= margin else None


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % interval (normal approximation)."""
    x = np.asarray(values, dtype=float)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
    return float(x.mean()), float(half)


BASELINE = "taggram"  # each patch's exact share spread evenly over it: what the tagger's own timeline says


def real_benchmark(
    model: str,
    data: str,
    out: Path,
    *,
    splices: int = 50,
    methods: tuple[str, ...] = ("occlusion", "integrated-gradients", "gradcam"),
    genre_target: bool | None = None,
    quantity: str = "file-score",
    sanity_splices: int = 5,
    seed: int = 0,
    on_step: Callable[[], None] | None = None,
) -> dict:
    """Score ``methods`` on ``splices`` A-B-A splices of ``data``'s tracks (any labelled data set SPEC).

    ``genre_target``: the target is B's label (a genre model trained on ``data``'s labels; the default
    where the model's labels hold every label of ``data``); otherwise the label the model's own scores
    put on B. Beside the methods, the ``taggram`` row spreads each patch's share evenly within it (what
    a method must beat to say more than the timeline), and the first ``sanity_splices`` splices are
    explained again with re-initialised weights (the randomisation sanity check: a rank correlation
    under 0.3 passes).
    """
    import soundfile as sf

    from musictag.audio.stream import load
    from musictag.data import open_dataset
    from musictag.explain.relevance import explain
    from musictag.explain.sanity import sanity_correlation
    from musictag.inference.factory import open_tagger
    from musictag.studies.explanation_benchmark import segment_labels

    tagger = open_tagger(model, backend="torch")
    items = [item for item in open_dataset(data).items if item.labels]
    if len({item.labels[0] for item in items}) < 2:
        raise ParameterError(f"{data}: splices need tracks of at least two labels")
    if genre_target is None:
        genre_target = {item.labels[0] for item in items} <= set(tagger.labels)
    rate, rng = tagger.sample_rate, random.Random(seed)
    rows = {m: {"auc": [], "pointing": [], "deletion": [], "sanity": []} for m in (*methods, BASELINE)}
    cases, tries = [], 0
    while len(cases) < splices and tries < 20 * splices:
        tries += 1
        a, b = rng.sample(items, 2)
        if a.labels[0] == b.labels[0] or (genre_target and b.labels[0] not in tagger.labels):
            continue
        audio, span = splice(load(a.path, sample_rate=rate), load(b.path, sample_rate=rate), rate, rng)
        index = tagger.labels.index(b.labels[0]) if genre_target else pick_target(tagger, audio, rate, span)
        if index is None:
            continue
        path = out / "splices" / f"{len(cases):03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            sf.write(tmp, audio, rate, format="WAV")
        target = tagger.labels[index]
        case = {"path": str(path), "a": a.id, "b": b.id, "span": span, "target": target}
        for method in methods:
            found = explain(tagger, str(path), target=target, method=method, quantity=quantity)
            _score(rows[method], case, method, found, segment_labels(found, [span]), tagger)
            if len(cases) < sanity_splices:
                rows[method]["sanity"].append(
                    sanity_correlation(tagger, str(path), method=method, target=target, trained=found)
                )
            if on_step:
                on_step()
        timeline = _even_within_patches(found, tagger.patch_frames)
        _score(rows[BASELINE], case, BASELINE, timeline, segment_labels(found, [span]), tagger)
        cases.append(case)
    if not cases:
        raise ParameterError(f"{data}: no splice gave a target the model puts on B alone")
    summary = {m: {k: mean_interval(v) for k, v in row.items() if v} for m, row in rows.items()}
    result = {
        "model": model,
        "data": data,
        "splices": len(cases),
        "seed": seed,
        "quantity": quantity,
        "methods": summary,
        "cases": cases,
    }
    with atomic_open(out / "real.json") as handle:
        json.dump(result, handle, indent=1)
    with atomic_open(out / "real.md") as handle:
        handle.write(markdown(result))
    return result


def _score(row: dict, case: dict, name: str, found, labels: np.ndarray, tagger) -> None:
    """Segment ROC-AUC, pointing game and deletion AUC of one explanation, into ``row`` and ``case``."""
    from sklearn.metrics import roc_auc_score

    from musictag.studies.explanation_benchmark import deletion_auc

    relevance = found.over_time
    row["auc"].append(float(roc_auc_score(labels, relevance)))
    row["pointing"].append(float(labels[int(np.argmax(relevance))]))
    order = np.argsort(-relevance, kind="stable")
    row["deletion"].append(deletion_auc(tagger, found, order, step=8))  # 8 segments a step: 4 s
    case[name] = row["auc"][-1]


def _even_within_patches(found, patch_frames: int):
    """``found`` with each patch's relevance spread evenly over the patch (the taggram baseline)."""
    import dataclasses

    from musictag.explain.relevance import spread_shares

    per_patch = found.relevance.reshape(-1, patch_frames, found.relevance.shape[-1])
    even = spread_shares(np.zeros_like(per_patch), per_patch.reshape(len(per_patch), -1).sum(axis=1))
    relevance = even.reshape(found.relevance.shape)
    frames = max(1, round(found.segment_seconds / found.frame_seconds))
    segments = [
        {**s, "relevance": float(relevance[i * frames : (i + 1) * frames].sum())} for i, s in enumerate(found.segments)
    ]
    return dataclasses.replace(found, method=BASELINE, relevance=relevance, segments=segments)


def markdown(result: dict) -> str:
    """The table: per method, segment ROC-AUC, pointing game, deletion AUC and the sanity check, with 95 %
    intervals."""
    lines = [
        f"Real A-B-A splices: {result['splices']} of {result['data']}, model {result['model']}, seed {result['seed']}, "
        f"explaining {result['quantity']}",
        "",
        "| method | segment ROC-AUC | pointing game | deletion AUC (lower is better) | sanity: rank correlation "
        "with random weights (passes < 0.3) |",
        "|---|---|---|---|---|",
    ]
    for method, row in result["methods"].items():
        keys = ("auc", "pointing", "deletion", "sanity")
        cells = [f"{row[k][0]:.3f} ± {row[k][1]:.3f}" if k in row else "" for k in keys]
        name = f"{method} (baseline: each patch's share spread evenly)" if method == BASELINE else method
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
