"""``musictag explain benchmark``: explanation methods scored against ground truth that the procedural
composer makes known.

- *localisation*: a clip in which one concept's stem plays only in known spans; the score of a
  detector for that concept (a frame-level CNN trained on 200 bank pairs, the concept against its
  matched clips, whose score is a mean of per-frame evidence, so it can only rest on where the concept
  sounds) is explained, and each method's relevance over time is scored against the spans (segment
  ROC-AUC; pointing game: is the top segment inside a span).
- *deletion*: the clip's log-mel segments are silenced most-relevant-first; the area under the
  target's score curve (lower is better) against random order and loudest-first.
- *sanity*: Spearman correlation of each method's map for the trained and a re-initialised model
  (Adebayo et al. 2018); a method passes below 0.3.
- *planted confound*: a genre model (a frame-level CNN trained from scratch) on procedural clips in
  which one genre is told only by a cowbell, while the other percussion overlays sound in the other
  genres; TCAV over the five overlays, at the layer before the output, must name the cowbell for that
  genre and no other overlay.
Baselines: ``random`` (random relevance) and ``loudest`` (segment energy).
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from musictag.explain.bank import CONCEPTS, _arrangements, read_bank, render_bank
from musictag.explain.relevance import explain
from musictag.explain.validation import METHODS
from musictag.synthesis.styles import STYLES
from musictag.utils.atomic import atomic_open

#: the concepts whose stems the localisation clips gate
LOCALISED = ("drums", "singing_voice", "distorted_guitar", "strings")
BASELINES = ("random", "loudest")
OVERLAYS = ("cowbell", "tambourine", "triangle", "shaker", "woodblock")
GENRES = tuple(sorted(STYLES))


@dataclass
class Case:
    """One localisation clip: its audio, the concept in it and where it sounds."""

    path: Path
    concept: str
    target: str
    spans: list[tuple[float, float]]
    duration: float


def _spans(rng: random.Random, duration: float) -> list[tuple[float, float]]:
    """Two disjoint spans of 3-4.5 s, at least 1.5 s apart, inside the clip."""
    while True:
        a = sorted(round(rng.uniform(0.5, duration - 4.5), 2) for _ in range(2))
        spans = [(a[0], a[0] + rng.uniform(3, 4.5)), (a[1], a[1] + rng.uniform(3, 4.5))]
        if spans[1][0] - spans[0][1] >= 1.5 and spans[1][1] <= duration - 0.25:
            return [(round(s, 2), round(e, 2)) for s, e in spans]


def render_case(concept: str, seed: int, out: Path, *, duration: float = 15.0, sample_rate: int = 16000) -> Case:
    """A clip whose ``concept`` stem plays only in two spans (20 ms fades), mastered like a bank pair."""
    import soundfile as sf

    from musictag.synthesis.render import effects, master, render_stems

    spec = CONCEPTS[concept]
    rng = random.Random(f"case:{concept}:{seed}")
    genre = rng.choice(spec.hosts)
    arrangement, _ = _arrangements(spec, genre, seed, duration, rng)
    stems = render_stems(arrangement, sample_rate=sample_rate, seed=seed)
    spans = _spans(rng, duration)
    gate = np.zeros(len(stems[spec.stem]), np.float32)
    fade = int(0.02 * sample_rate)
    for start, end in spans:
        a, b = int(start * sample_rate), int(end * sample_rate)
        gate[a:b] = 1.0
        gate[a : a + fade] = np.linspace(0, 1, fade)
        gate[b - fade : b] = np.linspace(1, 0, fade)
    stems[spec.stem] = stems[spec.stem] * gate
    mix, loudness = effects(stems, genre, sample_rate, np.random.default_rng(seed))
    path = out / f"{concept}_{seed}.wav"
    sf.write(path, master(mix, loudness, sample_rate), sample_rate)
    return Case(path, concept, concept, spans, duration)


def segment_labels(explanation, spans) -> np.ndarray:
    """1 for a segment at least half inside a span."""
    out = []
    for s in explanation.segments:
        inside = sum(max(0.0, min(s["end"], b) - max(s["start"], a)) for a, b in spans)
        out.append(inside >= 0.5 * (s["end"] - s["start"]))
    return np.array(out, dtype=int)


def _baseline(name: str, explanation, seed: int) -> np.ndarray:
    if name == "random":
        return np.random.default_rng(seed).random(len(explanation.segments))
    frames = max(1, round(explanation.segment_seconds / explanation.frame_seconds))
    energy = explanation.mel.sum(axis=1)
    return np.array([energy[i * frames : (i + 1) * frames].sum() for i in range(len(explanation.segments))])


def deletion_auc(tagger, explanation, order: np.ndarray, *, step: int = 2) -> float:
    """Mean target score while the log-mel's segments are silenced in ``order``, ``step`` at a time
    (0 deleted .. all deleted): lower means the order found what the score rests on."""
    import torch

    from musictag.models.model_folder import activate

    frames = max(1, round(explanation.segment_seconds / explanation.frame_seconds))
    patch = tagger.patch_frames
    x = torch.from_numpy(explanation.mel.copy()).reshape(-1, patch, explanation.mel.shape[-1])
    index = tagger.labels.index(explanation.target)

    def scores(patches: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            logits = torch.cat(
                [tagger.module.forward_features(patches[i : i + 64])["logits"] for i in range(0, len(patches), 64)]
            )
        return activate(logits, tagger.config.activation)[:, index]

    per_patch = scores(x)
    means = [float(per_patch.mean())]
    flat = x.view(-1, x.shape[-1])
    for k in range(step, len(order) + step, step):  # only the patches a step changes are scored again
        changed = set()
        for segment in order[k - step : k]:
            flat[segment * frames : (segment + 1) * frames] = 0.0
            changed.update(range(segment * frames // patch, min(len(x), -(-(segment + 1) * frames // patch))))
        if changed:
            rows = torch.tensor(sorted(changed))
            per_patch[rows] = scores(x[rows])
        means.append(float(per_patch.mean()))
    return float(np.mean(means))


def train_detector(concept: str, out: Path, *, pairs: int = 200, epochs: int = 4) -> Path:
    """A model folder that tells ``concept`` from its absence (labels ``concept`` and ``no_concept``): a
    frame-level CNN (:class:`~musictag.models.framewise.FramewiseCNN`) trained on ``pairs`` bank clips
    and their matched clips. Its score is the mean of per-frame scores that each hear about 0.25 s, so
    the evidence it rests on is where the concept sounds: the ground truth an explanation is held to."""
    import soundfile as sf

    from musictag.explain.bank import render_pair

    data = out / "data"
    for label in (concept, f"no_{concept}"):
        (data / label).mkdir(parents=True, exist_ok=True)
    for k in range(pairs):
        pair = render_pair(CONCEPTS[concept], 90_000 + k)
        sf.write(data / concept / f"{k:03d}.flac", pair.positive, 16000)
        sf.write(data / f"no_{concept}" / f"{k:03d}.flac", pair.matched, 16000)
    return train_framewise(data, out, f"{concept}-detector", epochs=epochs)


def train_framewise(data: Path, out: Path, name: str, *, epochs: int) -> Path:
    """A frame-level CNN trained from scratch on the label folders in ``data`` (3-s patches, 4 crops per
    clip and epoch), saved under ``out``."""
    from musictag.data.label_folders import load_label_folders
    from musictag.training.neural import train_neural
    from musictag.training.settings import NeuralSettings

    dataset = load_label_folders(data)
    settings = NeuralSettings(
        architecture="framewise-cnn", patch_seconds=3.0, epochs=epochs, crops_per_track=4, cache=str(out / "cache")
    )
    return train_neural(dataset, settings, out, train=dataset.items, name=name, quiet=True)


def localisation(taggers: dict, cases: list[Case], methods: list[str], *, on_step=None) -> dict:
    """Per method and baseline: segment ROC-AUC, pointing game and deletion AUC over ``cases``, each
    explained with its concept's model in ``taggers``."""
    from sklearn.metrics import roc_auc_score

    rows: dict[str, dict[str, list[float]]] = {
        m: {"auc": [], "pointing": [], "deletion": []} for m in [*methods, *BASELINES]
    }
    for case in cases:
        tagger, first = taggers[case.concept], None
        for method in methods:
            found = explain(tagger, str(case.path), target=case.target, method=method)
            first = first or found
            _score(rows[method], tagger, found, found.over_time, case, roc_auc_score)
            if on_step:
                on_step()
        for k, name in enumerate(BASELINES):
            _score(rows[name], tagger, first, _baseline(name, first, k), case, roc_auc_score)
    return {
        name: {metric: round(float(np.mean(values)), 4) for metric, values in metrics.items()}
        for name, metrics in rows.items()
    }


def _score(row: dict, tagger, explanation, relevance: np.ndarray, case: Case, roc_auc_score) -> None:
    labels = segment_labels(explanation, case.spans)
    row["auc"].append(roc_auc_score(labels, relevance))
    row["pointing"].append(float(labels[int(np.argmax(relevance))]))
    row["deletion"].append(deletion_auc(tagger, explanation, np.argsort(-relevance, kind="stable")))


def sanity(taggers: dict, cases: list[Case], methods: list[str]) -> dict[str, float]:
    """Each method's weight-randomisation correlation over the cases (low: the map depends on the weights)."""
    from musictag.explain.sanity import sanity_correlation

    return {
        m: round(
            float(
                np.mean([sanity_correlation(taggers[c.concept], str(c.path), method=m, target=c.target) for c in cases])
            ),
            4,
        )
        for m in methods
    }


def _overlay_pair(overlay: str, style: str, seed: int):
    """The bank's pair for ``overlay`` played in ``style``: a clip with it and its matched twin without."""
    from musictag.explain.bank import render_pair

    return render_pair(replace(CONCEPTS[overlay], hosts=(style,), prompt=""), seed)


def _synthetic_genres(out: Path, planted: str, seed: int, per_genre: int) -> Path:
    """Clips of every genre in label folders. The ``planted`` genre's clips are played in the other
    genres' styles and every one carries a cowbell: the cowbell is the one thing that tells that class.
    Half of the other genres' clips carry one of the other four overlays, so that "extra percussion"
    alone does not tell it."""
    import soundfile as sf

    others = [g for g in GENRES if g != planted]
    distractors = [o for o in OVERLAYS if o != "cowbell"]
    for genre in GENRES:
        folder = out / genre
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_genre):
            clip_seed = seed * 10_000 + GENRES.index(genre) * 100 + k
            if genre == planted:
                audio = _overlay_pair("cowbell", others[(seed + k) % len(others)], clip_seed).positive
            elif k % 2:
                audio = _overlay_pair(distractors[(k // 2 + seed) % len(distractors)], genre, clip_seed).positive
            else:
                audio = _overlay_pair("cowbell", genre, clip_seed).matched
            sf.write(folder / f"{genre}_{k:03d}.flac", audio, 16000)
    return out


def overlay_effects(tagger, planted: str, out: Path, *, clips: int = 6) -> dict[str, float]:
    """Per overlay, how much the model's probability of ``planted`` rises when the overlay is added to
    clips of the other genres: the ground truth TCAV should agree with."""
    import soundfile as sf

    index, effects = tagger.labels.index(planted), {}
    others = [g for g in GENRES if g != planted]
    for name in OVERLAYS:
        rises = []
        for k in range(clips):
            pair = _overlay_pair(name, others[k % len(others)], 555_000 + k)
            sf.write(out / "with.wav", pair.positive, 16000)
            sf.write(out / "without.wav", pair.matched, 16000)
            rises.append(tagger.tag(out / "with.wav").scores[index] - tagger.tag(out / "without.wav").scores[index])
        effects[name] = round(float(np.mean(rises)), 4)
    return effects


def planted_confound(out: Path, *, seeds: int = 10, per_genre: int = 12, on_step=None) -> dict:
    """For each seed: train a genre model with a cowbell planted in one genre, then TCAV over the
    percussion overlays (see the module docstring). A concept is *named* when it is significant and
    positive at the layer before the output: there the logit is nearly linear in the activations, so
    the directional derivative TCAV takes is closest to what adding the concept does (every layer's
    verdict is kept in ``named_by_layer``)."""
    from musictag.explain.tcav import score_concepts
    from musictag.inference.tagger import Tagger

    bank_dir = out / "overlay_bank"
    render_bank(bank_dir, concepts=list(OVERLAYS), per_concept=100, random_sets=100, inputs=0)
    bank = read_bank(bank_dir)
    runs = []
    for seed in range(seeds):
        planted = GENRES[seed % len(GENRES)]
        data = _synthetic_genres(out / f"genres_seed{seed}", planted, seed, per_genre)
        tagger = Tagger(train_framewise(data, out / f"model_seed{seed}", f"planted-{planted}", epochs=15))
        inputs = sorted((data / planted).iterdir())
        result = score_concepts(
            tagger, bank.concepts, bank.randoms, inputs, matched=bank.matched, targets=list(GENRES), subsets=10
        )
        by_layer = {layer: [c for c in OVERLAYS if result.significant(c, planted, layer)] for layer in result.layers}
        verdict = result.layers[-1]  # the layer before the output
        named = by_layer[verdict]
        control = any(r["significant"] for r in result.rows if r["concept"] == "random_control")
        runs.append(
            {
                "seed": seed,
                "planted_genre": planted,
                "layer": verdict,
                "named": named,
                "found": "cowbell" in named,
                "false_concepts": [c for c in named if c != "cowbell"],
                "named_by_layer": by_layer,
                "overlay_effects": overlay_effects(tagger, planted, data),
                "cowbell_named_for": [g for g in GENRES if g != planted and result.significant("cowbell", g, verdict)],
                "control_significant": control,
            }
        )
        if on_step:
            on_step()
    return {
        "runs": runs,
        "found": sum(r["found"] for r in runs),
        "seeds": seeds,
        "false_concepts": sum(len(r["false_concepts"]) for r in runs),
    }


def run_benchmark(
    out: str | os.PathLike,
    *,
    seeds: int = 10,
    cases_per_concept: int = 3,
    methods: list[str] | None = None,
    on_step=None,
) -> dict:
    """Every part of the benchmark; writes ``benchmark.json`` and ``benchmark.md`` into ``out``."""
    from musictag.inference.tagger import Tagger

    out = Path(out)
    methods = list(methods or METHODS)
    (out / "cases").mkdir(parents=True, exist_ok=True)
    cases = [render_case(c, s, out / "cases") for c in LOCALISED for s in range(cases_per_concept)]
    taggers = {c: Tagger(train_detector(c, out / "detectors" / c)) for c in LOCALISED}
    result = {
        "model": "concept detectors (frame-level CNNs trained on bank pairs)",
        "cases": [{"file": str(c.path.relative_to(out)), "concept": c.concept, "spans": c.spans} for c in cases],
    }
    result["localisation"] = localisation(taggers, cases, methods, on_step=on_step)
    result["sanity"] = sanity(taggers, cases[::cases_per_concept], methods)
    if seeds:
        result["planted"] = planted_confound(out / "planted", seeds=seeds, on_step=on_step)
    with atomic_open(out / "benchmark.json") as handle:
        json.dump(result, handle, indent=1)
    with atomic_open(out / "benchmark.md") as handle:
        handle.write(markdown(result))
    return result


def markdown(result: dict) -> str:
    """The benchmark's tables in Markdown."""
    from musictag.explain.sanity import PASS_BELOW

    lines = [
        "# Explanation benchmark",
        "",
        f"{len(result['cases'])} clips (concepts {', '.join(LOCALISED)} in known spans) explained "
        f"with {result['model']}; deletion: mean target score while segments are silenced (lower is better); "
        f"sanity: Spearman of trained vs re-initialised maps (passes below {PASS_BELOW}).",
        "",
        "| method | segment ROC-AUC | pointing game | deletion AUC | sanity |",
        "|---|---|---|---|---|",
    ]
    for name, row in result["localisation"].items():
        sanity = result["sanity"].get(name)
        verdict = "—" if sanity is None else f"{sanity:.3f} ({'pass' if sanity < PASS_BELOW else 'FAIL'})"
        lines.append(f"| {name} | {row['auc']:.3f} | {row['pointing']:.2f} | {row['deletion']:.4f} | {verdict} |")
    planted = result.get("planted")
    if planted:
        lines += [
            "",
            f"Planted cowbell named for its genre in {planted['found']} of {planted['seeds']} seeds, "
            f"{planted['false_concepts']} false concepts named (TCAV at the layer before the output). "
            "Effect: how much adding each overlay raises the planted genre's probability.",
            "",
            "| seed | planted genre | named | named at earlier layers | effect: " + ", ".join(OVERLAYS) + " |",
            "|---|---|---|---|---|",
        ]
        for run in planted["runs"]:
            earlier = "; ".join(
                f"{layer}: {', '.join(names) or '—'}"
                for layer, names in run["named_by_layer"].items()
                if layer != run["layer"]
            )
            effects = ", ".join(f"{run['overlay_effects'][o]:+.2f}" for o in OVERLAYS)
            lines.append(
                f"| {run['seed']} | {run['planted_genre']} | {', '.join(run['named']) or '—'} | {earlier} | {effects} |"
            )
    return "\n".join(lines) + "\n"
