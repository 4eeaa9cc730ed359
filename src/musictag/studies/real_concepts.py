"""Concepts located and scored on real recordings (``musictag concepts benchmark --real DATA``).

A concept bank is rendered; what users ask about is real music. Two kinds of real test files, each with
the concept's span known:

- **mixed**: a real track (of a genre where the concept is rarely heard, :data:`MIXED_HOSTS`) with
  the concept's stem from the bank's composer mixed in over a known 5-9 s span, 6-12 dB under the
  track (RMS), with 50-ms fades;
- **spliced**: real recordings spliced A-B-A where the concept follows from the material
  (:data:`SPLICED`: classical around pop for a singing voice, around rock for drums, around metal for a
  distorted guitar).

``concepts locate``'s probe is read every 0.5 s and scored per patch against the span (a patch is in
it when its centre is): the location ROC-AUC. TCAV is run twice on the same bank, its input clips
once rendered (the bank's) and once real (4-s excerpts of the data set's tracks), and the expected
concept-tag pairs (:data:`EXPECTED_PAIRS`, those whose tag the model has) are looked up in both.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

from musictag.errors import ParameterError
from musictag.studies.real_splices import mean_interval, rms, splice, with_headroom
from musictag.utils.atomic import atomic_open, atomic_path

#: per stem concept: genres of real tracks where it is rarely heard (GTZAN's names)
MIXED_HOSTS = {
    "drums": ("classical",),
    "distorted_guitar": ("classical", "jazz"),
    "singing_voice": ("classical",),
    "bass_line": ("classical",),
    "piano": ("metal", "hiphop"),
    "strings": ("metal", "hiphop"),
    "brass": ("metal",),
}
#: per concept: (A, B) genres of real A-B-A splices where B carries the concept and A does not
SPLICED = {
    "singing_voice": ("classical", "pop"),
    "drums": ("classical", "rock"),
    "distorted_guitar": ("classical", "metal"),
}
#: concept -> tags a tagger should tie it to (TCAV's known answers, mtt-musicnn's tag names)
EXPECTED_PAIRS = {
    "drums": ("drums",),
    "singing_voice": ("vocal",),
    "distorted_guitar": ("rock", "guitar"),
    "piano": ("piano",),
    "strings": ("strings", "violin"),
    "fast_tempo": ("fast",),
}
UNDER_DB = (6.0, 12.0)  # the stem's level under the track
SPAN = (5.0, 9.0)  # seconds of the mixed-in stem
EXCERPT = 20.0  # seconds of a host track
FADE = 0.05


def mix_in(
    track: np.ndarray, stem: np.ndarray, rate: int, rng: random.Random
) -> tuple[np.ndarray, tuple[float, float]]:
    """``track`` with ``stem`` mixed in at a random place, 6-12 dB under the track's RMS, faded in and out:
    (audio, the stem's span in seconds)."""
    start = rng.uniform(2.0, max(2.0, len(track) / rate - len(stem) / rate - 2.0))
    at = int(start * rate)
    stem = stem[: len(track) - at]
    fade = np.minimum(1.0, np.minimum(np.arange(len(stem)), np.arange(len(stem))[::-1]) / (FADE * rate))
    level = rms(track) / rms(stem) * 10 ** (-rng.uniform(*UNDER_DB) / 20)
    out = track.copy()
    out[at : at + len(stem)] += (stem * fade * level).astype(np.float32)
    return with_headroom(out), (start, start + len(stem) / rate)


def location_auc(presence, span: tuple[float, float]) -> float:
    """ROC-AUC of the probe's per-patch probability against the span (a patch is in it when its centre is);
    NaN when every patch is on one side."""
    from sklearn.metrics import roc_auc_score

    centres = np.asarray(presence.starts) + presence.patch_seconds / 2
    inside = (centres >= span[0]) & (centres <= span[1])
    if inside.all() or not inside.any():
        return float("nan")
    return float(roc_auc_score(inside, presence.probability))


def real_concepts(
    model: str,
    data: str,
    bank_folder: str | Path,
    out: Path,
    *,
    concepts: list[str] | None = None,
    files: int = 10,
    tcav_inputs: int = 40,
    seed: int = 0,
    on_step: Callable[[], None] | None = None,
) -> dict:
    """Location ROC-AUC per concept on ``files`` mixed and ``files`` spliced real recordings of ``data``
    (a labelled data set SPEC with GTZAN's genre names), and TCAV's expected pairs with rendered and
    with ``tcav_inputs`` real input clips (0: no TCAV)."""
    from musictag.audio.stream import load
    from musictag.data import open_dataset
    from musictag.explain.bank import CONCEPTS, read_bank, render_stem
    from musictag.explain.locate import fit_probe, locate
    from musictag.inference.factory import open_tagger

    tagger = open_tagger(model, backend="torch")
    bank = read_bank(bank_folder)
    by_genre: dict[str, list] = {}
    for item in open_dataset(data).items:
        if item.labels:
            by_genre.setdefault(item.labels[0], []).append(item)
    names = concepts or [c for c in bank.concepts if c in MIXED_HOSTS]
    if not names:
        raise ParameterError(f"{bank_folder}: no stem concept to mix in ({', '.join(MIXED_HOSTS)})")
    unknown = [c for c in names if c not in MIXED_HOSTS or c not in bank.concepts]
    if unknown:
        raise ParameterError(
            f"concept {unknown[0]!r}: not a stem concept of the bank (known here: "
            f"{', '.join(c for c in MIXED_HOSTS if c in bank.concepts)})"
        )
    rate, rng = tagger.sample_rate, random.Random(seed)
    excerpt = int(EXCERPT * rate)

    def real(item) -> np.ndarray:  # an excerpt from a random place in the track
        audio = load(item.path, sample_rate=rate)
        at = rng.randrange(0, max(1, len(audio) - excerpt))
        return audio[at : at + excerpt]

    def scored(kind: str, concept: str, k: int, audio: np.ndarray, span, probe, ids) -> dict:
        import soundfile as sf

        path = out / kind / f"{concept}_{k:02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            sf.write(tmp, audio, rate, format="WAV")
        found = locate(tagger, str(path), probe)
        outside = [s for s in found.spans() if s[1] <= span[0] or s[0] >= span[1]]
        if on_step:
            on_step()
        return {
            "path": str(path),
            "tracks": ids,
            "span": [round(x, 3) for x in span],
            "auc": location_auc(found, span),
            "false_spans": len(outside),
        }

    rows = {}
    for concept in names:
        hosts = [item for genre in MIXED_HOSTS[concept] for item in by_genre.get(genre, [])]
        if not hosts:
            raise ParameterError(f"{data}: no tracks of {' or '.join(MIXED_HOSTS[concept])} to mix {concept} into")
        probe = fit_probe(
            tagger, concept, bank=bank.concepts, randoms=bank.randoms, matched=bank.matched.get(concept, [])
        )
        row = {"layer": probe.layer, "probe_accuracy": probe.accuracy, "mixed": [], "spliced": []}
        for k in range(files):
            item = rng.choice(hosts)
            stem = render_stem(CONCEPTS[concept], 10_000 + k, duration=rng.uniform(*SPAN), sample_rate=rate)
            audio, span = mix_in(real(item), stem, rate, rng)
            row["mixed"].append(scored("mixed", concept, k, audio, span, probe, [item.id]))
        if concept in SPLICED:
            first, second = (by_genre.get(g, []) for g in SPLICED[concept])
            for k in range(files if first and second else 0):
                a, b = rng.choice(first), rng.choice(second)
                audio, span = splice(load(a.path, sample_rate=rate), load(b.path, sample_rate=rate), rate, rng)
                row["spliced"].append(scored("spliced", concept, k, audio, span, probe, [a.id, b.id]))
        for kind in ("mixed", "spliced"):
            aucs = [c["auc"] for c in row[kind] if np.isfinite(c["auc"])]
            if aucs:
                row[f"{kind}_auc"] = mean_interval(aucs)
                row[f"{kind}_false_spans"] = float(np.mean([c["false_spans"] for c in row[kind]]))
        rows[concept] = row
    result = {"model": model, "data": data, "bank": str(bank_folder), "files": files, "seed": seed, "concepts": rows}
    if tcav_inputs:
        result["tcav"] = _tcav_real_and_rendered(tagger, bank, by_genre, real, out, tcav_inputs, rate)
    with atomic_open(out / "real_concepts.json") as handle:
        json.dump(result, handle, indent=1)
    with atomic_open(out / "real_concepts.md") as handle:
        handle.write(markdown(result))
    return result


def _tcav_real_and_rendered(tagger, bank, by_genre: dict, real, out: Path, count: int, rate: int) -> dict:
    """The expected pairs' TCAV rows (significant and positive, or not) with the bank's rendered input
    clips and with ``count`` real 4-s excerpts spread over the genres."""
    import soundfile as sf

    from musictag.explain.tcav import score_concepts

    concepts = {c: files for c, files in bank.concepts.items() if c in EXPECTED_PAIRS}
    targets = sorted({t for c in concepts for t in EXPECTED_PAIRS[c] if t in tagger.labels})
    if not concepts or not targets:
        return {}
    genres = sorted(by_genre)
    clips = []
    for k in range(count):
        tracks = by_genre[genres[k % len(genres)]]
        path = out / "inputs" / f"real_{k:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            sf.write(tmp, real(tracks[k // len(genres) % len(tracks)])[: 4 * rate], rate, format="WAV")
        clips.append(path)
    found = {}
    for name, inputs in (("rendered", bank.inputs), ("real", clips)):
        result = score_concepts(tagger, concepts, bank.randoms, inputs, matched=bank.matched, targets=targets)
        found[name] = {
            f"{c} -> {t}": _pair(result, c, t) for c in concepts for t in EXPECTED_PAIRS[c] if t in tagger.labels
        }
    return found


def _pair(result, concept: str, target: str) -> dict:
    row = result.significant(concept, target)
    if row is None:
        best = min(
            (r for r in result.rows if r["concept"] == concept and r["target"] == target),
            key=lambda r: r["p_bonferroni"],
        )
        return {"significant": False, "layer": best["layer"], "score": best["score"], "p": best["p_bonferroni"]}
    return {"significant": True, "layer": row["layer"], "score": row["score"], "p": row["p_bonferroni"]}


def markdown(result: dict) -> str:
    """Per concept the location ROC-AUC (95 % interval) on mixed and spliced real recordings, then TCAV's
    expected pairs with rendered and real input clips."""
    lines = [
        f"Concepts on real recordings: model {result['model']}, data {result['data']}, bank {result['bank']}, "
        f"{result['files']} files per concept and kind, seed {result['seed']}.",
        "",
        "| concept | probe layer (held-out accuracy on the bank) | location ROC-AUC, stem mixed into real tracks "
        "| false spans a file | location ROC-AUC, real A-B-A splices | false spans a file |",
        "|---|---|---|---|---|---|",
    ]

    def cells(row, kind):
        if f"{kind}_auc" not in row:
            return "- | -"
        mean, half = row[f"{kind}_auc"]
        return f"{mean:.3f} ± {half:.3f} | {row[f'{kind}_false_spans']:.1f}"

    for concept, row in result["concepts"].items():
        lines.append(
            f"| {concept} | {row['layer']} ({row['probe_accuracy']:.2f}) | {cells(row, 'mixed')} | "
            f"{cells(row, 'spliced')} |"
        )
    tcav = result.get("tcav")
    if tcav:
        lines += ["", "| expected pair | TCAV, rendered input clips | TCAV, real input clips |", "|---|---|---|"]
        for pair in tcav["rendered"]:
            found = []
            for name in ("rendered", "real"):
                r = tcav[name][pair]
                word = "significant" if r["significant"] else "not significant"
                found.append(f"{word}: {r['score']:.2f}, p {r['p']:.1g} ({r['layer']})")
            lines.append(f"| {pair} | {found[0]} | {found[1]} |")
    return "\n".join(lines) + "\n"
