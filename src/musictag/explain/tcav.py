"""Concept activation vectors (TCAV, Kim et al. 2018) with captum, their significance and their report
(where a concept sounds in a recording: :mod:`musictag.explain.locate`).

A concept's clips are split into disjoint subsets; for every subset and layer the concept activation
vector is the difference between the mean activations (averaged over time) of the subset and of its
matched clips, or of a random set: the "pattern CAV" of Pahde et al. (arXiv 2212.03848), which for matched
pairs is the mean change the concept makes in the layer. A target's TCAV score is the share of input
clips whose target logit grows along that vector. The null distribution is the same score for vectors
between two disjoint random sets; a concept's scores over its subsets are compared with it by Welch's
t-test, Bonferroni-corrected over every concept, layer and target tested. Random sets also play a
concept (``random_control``): the check that a set of clips without a common concept is not called
significant.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from musictag.errors import ParameterError
from musictag.explain.activations import (
    Logits,
    check_layers,
    clip_patches,
    default_layers,
    file_activations,
    layer_outputs,
    probe_class,
)
from musictag.inference.tagger import Tagger

ALPHA = 0.05
CONTROL = "random_control"


@dataclass
class TcavResult:
    """TCAV scores and p-values per concept, layer and target, with the random control."""

    model: str
    layers: list[str]
    targets: list[str]
    concepts: list[str]
    inputs: int
    subsets: int  # concept activation vectors per concept
    null_vectors: int  # random-pair vectors of the null distribution
    rows: list[dict] = field(default_factory=list)  # one per concept x layer x target
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)  # concept -> layer -> probe accuracy

    def significant(self, concept: str, target: str, layer: str | None = None) -> dict | None:
        """The row (of ``layer``, or of the layer where it is most significant) where ``concept`` is
        significant and positive for ``target``, if any."""
        rows = [
            r
            for r in self.rows
            if r["concept"] == concept
            and r["target"] == target
            and r["significant"]
            and r["direction"] == "positive"
            and layer in (None, r["layer"])
        ]
        return min(rows, key=lambda r: r["p_bonferroni"]) if rows else None

    def to_dict(self) -> dict:
        """The result as JSON-ready values."""
        return {
            "model": self.model,
            "layers": self.layers,
            "targets": self.targets,
            "concepts": self.concepts,
            "inputs": self.inputs,
            "subsets": self.subsets,
            "null_vectors": self.null_vectors,
            "alpha": ALPHA,
            "probe_accuracy": self.accuracy,
            "rows": self.rows,
        }


def _split(files: list[Path], parts: int) -> list[list[Path]]:
    """``files`` in ``parts`` disjoint groups of (nearly) equal size, in order."""
    edges = np.linspace(0, len(files), parts + 1).round().astype(int)
    return [files[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


def score_concepts(
    tagger: Tagger,
    concepts: dict[str, list[Path]],
    randoms: list[list[Path]],
    inputs: list[Path],
    *,
    matched: dict[str, list[Path]] | None = None,
    layers: list[str] | None = None,
    targets: list[str] | None = None,
    subsets: int = 20,
    seed: int = 0,
    on_step=None,
) -> TcavResult:
    """TCAV scores and their significance for every concept, layer and target.

    A concept's clips are split into ``subsets`` disjoint groups; group ``k``'s vector separates it from
    its matched clips (when the bank has them) or else from random set ``k``. The null vectors separate
    two disjoint random sets each, so a concept is tested the way a set of random clips would be: the
    ``random_control`` concept (the last ``subsets`` random sets, against the ``subsets`` before them)
    is such a set, and must come out not significant.
    """
    from captum._utils.av import AV
    from captum.concept import TCAV, Concept
    from scipy.stats import ttest_ind

    if tagger.classical is not None:
        raise ParameterError(f"model {tagger.name} is a classical model: it has no layers for concept vectors")
    if not inputs:
        raise ParameterError("TCAV needs input clips to score (a bank's inputs/ folder, or --inputs DIR)")
    smallest = min((len(f) for f in concepts.values()), default=0)
    subsets = min(subsets, smallest // 2)
    if subsets < 3 or len(randoms) < 2 * subsets + 10:
        raise ParameterError(
            f"TCAV needs at least 6 clips per concept and {2 * max(subsets, 3) + 10} random sets "
            f"(found {smallest} and {len(randoms)}): render a bank with musictag concepts "
            "render"
        )
    layers = check_layers(tagger, layers or default_layers(tagger))
    targets = targets or list(tagger.labels)
    unknown = [t for t in targets if t not in tagger.labels]
    if unknown:
        raise ParameterError(f"unknown target {unknown[0]!r} for {tagger.name}; its labels: {', '.join(tagger.labels)}")
    matched = {k: v for k, v in (matched or {}).items() if len(v) == len(concepts.get(k, ()))}
    pool, control_negatives, control = randoms[: -2 * subsets], randoms[-2 * subsets : -subsets], randoms[-subsets:]
    groups: dict[str, tuple[list[list[Path]], list[list[Path]]]] = {CONTROL: (control, control_negatives)}
    for name, files in concepts.items():
        negatives = _split(matched[name], subsets) if name in matched else [pool[k % len(pool)] for k in range(subsets)]
        groups[name] = (_split(files, subsets), negatives)
    groups = {name: groups[name] for name in [*concepts, CONTROL]}
    used = [group for pos, neg in groups.values() for group in pos + neg] + pool[: len(pool) // 2 * 2]
    activations = file_activations(tagger, layers, list(dict.fromkeys(f for group in used for f in group)))
    _, outs = layer_outputs(tagger, layers, clip_patches(tagger, inputs[:1]))
    channels = {out[0].numel(): out.shape[1] for out in outs.values()}
    qualified = [f"model.{layer}" for layer in layers]
    names = list(groups)
    result = TcavResult(tagger.name, layers, targets, names, 0, subsets, len(pool) // 2)
    with tempfile.TemporaryDirectory(prefix="musictag-tcav-") as save:
        ids = iter(range(10**6))
        clips: dict[int, np.ndarray] = {}  # concept id -> clip number of each activation row

        def concept(name: str, files: list[Path]) -> Concept:
            made = Concept(next(ids), name, None)
            clips[made.id] = np.repeat(np.arange(len(files)), [len(activations[f][0]) for f in files])
            for k, q in enumerate(qualified):
                AV.save(save, "m", made.identifier, q, torch.cat([activations[f][k] for f in files]), "0")
            return made

        sets = {
            ("null", i): [concept(f"random_{2 * i}", pool[2 * i]), concept(f"random_{2 * i + 1}", pool[2 * i + 1])]
            for i in range(len(pool) // 2)
        }
        for name, (positives, negatives) in groups.items():
            for k, (pos, neg) in enumerate(zip(positives, negatives, strict=True)):
                sets[name, k] = [concept(f"{name}_{k}", pos), concept(f"not_{name}_{k}", neg)]

        class Precomputed(TCAV):  # activations are saved above, in one pass per file for all layers (captum's
            def generate_activation(self, layers, concept) -> None:  # check for saved ones swaps layer and
                pass  # concept, so it would recompute them from a data iterator, one pass per layer)

        probe = probe_class()(channels, clips, seed)
        tcav = Precomputed(Logits(tagger.module), qualified, model_id="m", classifier=probe, save_path=save)
        tcav.compute_cavs(list(sets.values()))
        vectors = {}
        for key, pair in sets.items():
            for layer, q in zip(layers, qualified, strict=True):
                stats = tcav.cavs[_key(*pair)][q].stats
                vectors[key, layer] = stats["weights"][list(stats["classes"]).index(pair[0].id)].float()
                if key[0] != "null":
                    result.accuracy.setdefault(key[0], {}).setdefault(layer, []).append(float(stats["accs"]))
        for name in names:
            result.accuracy[name] = {layer: round(float(np.mean(v)), 4) for layer, v in result.accuracy[name].items()}
        x = clip_patches(tagger, inputs)
        result.inputs = len(x)
        logits, outs = layer_outputs(tagger, layers, x, grad=True)
        outs = [outs[layer] for layer in layers]
        tests = len(names) * len(layers) * len(targets)
        for target in targets:
            grads = torch.autograd.grad(logits[:, tagger.labels.index(target)].sum(), outs, retain_graph=True)
            for layer, g in zip(layers, grads, strict=True):
                flat = g.flatten(1).float()

                def share(key, flat=flat, layer=layer) -> float:
                    return float((flat @ vectors[key, layer] > 0).float().mean())

                null = np.array([share(("null", i)) for i in range(len(pool) // 2)])
                for name in names:
                    scores = np.array([share((name, k)) for k in range(subsets)])
                    p = _welch(scores, null, ttest_ind)
                    result.rows.append(
                        {
                            "concept": name,
                            "layer": layer,
                            "target": target,
                            "score": round(float(scores.mean()), 4),
                            "score_std": round(float(scores.std()), 4),
                            "null": round(float(null.mean()), 4),
                            "p": p,
                            "p_bonferroni": min(1.0, p * tests),
                            "significant": p * tests < ALPHA,
                            "direction": "positive" if scores.mean() > null.mean() else "negative",
                        }
                    )
            if on_step:
                on_step()
    return result


def _key(first, second) -> str:
    from captum.concept._utils.common import concepts_to_str

    return concepts_to_str([first, second])


def _welch(scores: np.ndarray, null: np.ndarray, test) -> float:
    import warnings

    if np.ptp(scores) == 0 and np.ptp(null) == 0:
        return 0.0 if scores[0] != null[0] else 1.0
    with warnings.catch_warnings():  # a concept scoring the same on every subset is fine, not "precision loss"
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(test(scores, null, equal_var=False).pvalue)


def markdown_table(result: TcavResult) -> str:
    """Significant positive concepts per target (best layer), then every concept's probe accuracy."""
    lines = [
        f"# TCAV: {result.model}",
        "",
        f"{result.inputs} input patches, {result.subsets} vectors per concept (disjoint subsets), "
        f"{result.null_vectors} between pairs of random sets for the null, "
        f"Welch t-test, Bonferroni over {len(result.concepts)} concepts x {len(result.layers)} layers x "
        f"{len(result.targets)} targets, "
        f"alpha {ALPHA}.",
        "",
        "| target | concept | layer | TCAV score | null | p (Bonferroni) |",
        "|---|---|---|---|---|---|",
    ]
    for target in result.targets:
        for concept in result.concepts:
            row = result.significant(concept, target)
            if row:
                lines.append(
                    f"| {target} | {concept} | {row['layer']} | {row['score']:.2f} ± {row['score_std']:.2f} "
                    f"| {row['null']:.2f} | {row['p_bonferroni']:.2g} |"
                )
    lines += ["", "| concept | " + " | ".join(result.layers) + " |", "|---|" + "---|" * len(result.layers)]
    for concept in result.concepts:
        cells = " | ".join(f"{result.accuracy[concept][layer]:.2f}" for layer in result.layers)
        lines.append(f"| {concept} | {cells} |")
    return "\n".join(lines) + "\n"


def heatmap_png(result: TcavResult, path: str | os.PathLike) -> None:
    """Concept x target TCAV scores, one panel per layer; significant cells marked (+ positive, - negative)."""
    from musictag.plots import tcav_heatmap

    grids, marks = [], []
    for layer in result.layers:
        rows = {(r["concept"], r["target"]): r for r in result.rows if r["layer"] == layer}
        grids.append(np.array([[rows[c, t]["score"] for t in result.targets] for c in result.concepts]))
        marks.append(
            [
                [
                    ("+" if rows[c, t]["direction"] == "positive" else "-") if rows[c, t]["significant"] else ""
                    for t in result.targets
                ]
                for c in result.concepts
            ]
        )
    tcav_heatmap(grids, marks, result.layers, result.concepts, result.targets, path, title=result.model)
