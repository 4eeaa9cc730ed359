"""Concept activation vectors (TCAV, Kim et al. 2018) with captum, their significance, and where a
concept sounds in a recording.

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
from musictag.inference.tagger import Tagger

ALPHA = 0.05
CONTROL = "random_control"


class _Logits(torch.nn.Module):
    """A model as captum sees it: log-mel patches in, logits out (layer names under ``model.``)."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.model = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)["logits"]


def _probe_class():
    from captum.concept._utils.classifier import Classifier

    class Probe(Classifier):
        """A concept activation vector from a layer's activations averaged over time (and frequency): a
        concept may sound anywhere in a patch. The vector, the concept's mean minus the other set's,
        spread evenly back over the positions, is a direction in the layer's own space, where TCAV takes
        its derivatives. (Logistic probes' normals, used before, found fewer of the expected concepts on
        mtt-musicnn: the README has the comparison.)

        ``clips`` maps a concept's id to the clip number of each of its rows; clip ``j`` of a concept
        and clip ``j`` of its matched set are one pair. Accuracy (projection above the midpoint of the
        two means) is measured on a held-out third of the pairs, both clips out together: a clip whose
        twin was fitted as the other class is judged by its arrangement, not by the concept. The vector
        is then taken from every pair."""

        def __init__(self, channels: dict[int, int], clips: dict[int, np.ndarray], seed: int = 0):
            self.channels, self.clips, self.seed, self.positions = channels, clips, seed, 1
            self.labels, self.direction = np.array([]), np.array([])

        def _pool(self, x: torch.Tensor) -> np.ndarray:
            return x.double().reshape(len(x), self.channels[x.shape[1]], -1).mean(-1).numpy()

        def train_and_eval(self, dataloader, **kwargs):
            xs, ys = zip(*[(x, y) for x, y in dataloader], strict=True)
            flat = torch.cat(xs)
            x, y = self._pool(flat), torch.cat(ys).numpy()
            groups = np.concatenate([self.clips[int(batch[0])] for batch in ys])
            self.positions = flat.shape[1] // x.shape[1]
            self.labels = np.unique(y)
            train, test = _held_out(y, groups, self.seed)
            direction, middle = self._difference(x[train], y[train])
            accuracy = float((((x[test] @ direction) > middle) == (y[test] == self.labels[1])).mean())
            self.direction, _ = self._difference(x, y)
            return {"accs": torch.tensor(accuracy)}

        def _difference(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
            """The second class's mean minus the first's, and the projection halfway between them."""
            first, second = x[y == self.labels[0]].mean(0), x[y == self.labels[1]].mean(0)
            direction = second - first
            return direction, float((first + second) @ direction / 2)

        def weights(self) -> torch.Tensor:
            w = torch.from_numpy(self.direction).float().repeat_interleave(self.positions)
            return torch.stack([-w, w])

        def classes(self) -> list[int]:
            return [int(c) for c in self.labels]

    return Probe


def _held_out(y: np.ndarray, groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices to fit on and a held-out third (half, when a class has only two groups) to test on,
    every group (a clip, or a concept clip and its matched twin) on one side only, both classes on
    each side; with a single group in a class there is nothing to hold out, and both are every row."""
    from sklearn.model_selection import StratifiedGroupKFold

    parts = min(3, *(len(np.unique(groups[y == label])) for label in np.unique(y)))
    if parts >= 2:
        folds = StratifiedGroupKFold(n_splits=parts, shuffle=True, random_state=seed)
        train, test = next(folds.split(np.zeros(len(y)), y, groups))
        if len(np.unique(y[train])) == len(np.unique(y[test])) == 2:
            return train, test
    return np.arange(len(y)), np.arange(len(y))


def firing_layers(tagger: Tagger) -> list[str]:
    """The model's convolution and linear layers that its logits depend on, in the order a forward pass
    runs them (layers the pass skips, such as a fused front end, or whose output is not used, such as a
    transfer backbone's own classifier, are left out), without the output layer."""
    kinds = torch.nn.Conv1d | torch.nn.Conv2d | torch.nn.Linear
    names = [name for name, m in tagger.module.named_modules() if isinstance(m, kinds)]
    x = torch.zeros(1, tagger.patch_frames, tagger.frontend.config.n_mels)
    logits, found = _layer_outputs(tagger, names, x, grad=True)
    fired = list(found)  # insertion order: the order the layers ran
    grads = torch.autograd.grad(logits.sum(), [found[n] for n in fired], allow_unused=True)
    used = [name for name, g in zip(fired, grads, strict=True) if g is not None]
    return used[:-1]


def default_layers(tagger: Tagger, count: int = 3) -> list[str]:
    """``count`` layers spread over the deeper two thirds of the network, the last before the output included."""
    layers = firing_layers(tagger)
    deep = layers[len(layers) // 3 :] or layers
    picks = np.linspace(0, len(deep) - 1, min(count, len(deep))).round().astype(int)
    return [deep[i] for i in dict.fromkeys(picks.tolist())]


def check_layers(tagger: Tagger, layers: list[str]) -> list[str]:
    names = dict(tagger.module.named_modules())
    for layer in layers:
        if layer not in names or not layer:
            known = ", ".join(firing_layers(tagger))
            raise ParameterError(f"unknown layer {layer!r} for {tagger.name}; layers: {known}")
    return layers


def clip_patches(tagger: Tagger, paths: list[Path]) -> torch.Tensor:
    """Every whole patch of every clip, stacked ``(n, frames, mels)``."""
    return torch.cat([tagger.file_patches(str(p))[0] for p in paths])


@dataclass
class TcavResult:
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
        rows = [r for r in self.rows if r["concept"] == concept and r["target"] == target and r["significant"]
                and r["direction"] == "positive" and layer in (None, r["layer"])]  # fmt: skip
        return min(rows, key=lambda r: r["p_bonferroni"]) if rows else None

    def to_dict(self) -> dict:
        return {"model": self.model, "layers": self.layers, "targets": self.targets, "concepts": self.concepts,
                "inputs": self.inputs, "subsets": self.subsets, "null_vectors": self.null_vectors, "alpha": ALPHA,
                "probe_accuracy": self.accuracy, "rows": self.rows}  # fmt: skip


def _layer_outputs(tagger: Tagger, layers: list[str], x: torch.Tensor, *,
                   grad: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # fmt: skip
    """The model's logits and the output of each of ``layers`` that ran, in the order they ran (kept in
    the graph when ``grad``)."""
    modules = dict(tagger.module.named_modules())
    found: dict[str, torch.Tensor] = {}
    handles = [modules[name].register_forward_hook(lambda _m, _i, out, name=name: found.__setitem__(name, out))
               for name in layers]  # fmt: skip
    try:
        with torch.set_grad_enabled(grad):
            logits = tagger.module.eval().forward_features(x.requires_grad_(grad))["logits"]
    finally:
        for handle in handles:
            handle.remove()
    return logits, found


def _activations(tagger: Tagger, layers: list[str], patches: torch.Tensor) -> list[torch.Tensor]:
    """Each layer's flattened activations for ``patches`` (one row per patch), 64 patches per pass."""
    parts = [_layer_outputs(tagger, layers, patches[i : i + 64])[1] for i in range(0, len(patches), 64)]
    return [torch.cat([part[name].flatten(1) for part in parts]) for name in layers]


def _file_activations(tagger: Tagger, layers: list[str], files: list[Path]) -> dict[Path, list[torch.Tensor]]:
    """Each file's flattened activations per layer (one row per patch)."""
    per_file = [tagger.file_patches(str(f))[0] for f in files]
    flat = _activations(tagger, layers, torch.cat(per_file))
    out, start = {}, 0
    for f, p in zip(files, per_file, strict=True):
        out[f] = [layer[start : start + len(p)] for layer in flat]
        start += len(p)
    return out


def _split(files: list[Path], parts: int) -> list[list[Path]]:
    """``files`` in ``parts`` disjoint groups of (nearly) equal size, in order."""
    edges = np.linspace(0, len(files), parts + 1).round().astype(int)
    return [files[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


def score_concepts(tagger: Tagger, concepts: dict[str, list[Path]], randoms: list[list[Path]], inputs: list[Path], *,
                   matched: dict[str, list[Path]] | None = None, layers: list[str] | None = None,
                   targets: list[str] | None = None, subsets: int = 20, seed: int = 0,
                   on_step=None) -> TcavResult:  # fmt: skip
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
        raise ParameterError(f"TCAV needs at least 6 clips per concept and {2 * max(subsets, 3) + 10} random sets "
                             f"(found {smallest} and {len(randoms)}): render a bank with musictag concepts "
                             "render")  # fmt: skip
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
    activations = _file_activations(tagger, layers, list(dict.fromkeys(f for group in used for f in group)))
    _, outs = _layer_outputs(tagger, layers, clip_patches(tagger, inputs[:1]))
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

        sets = {("null", i): [concept(f"random_{2 * i}", pool[2 * i]), concept(f"random_{2 * i + 1}", pool[2 * i + 1])]
                for i in range(len(pool) // 2)}  # fmt: skip
        for name, (positives, negatives) in groups.items():
            for k, (pos, neg) in enumerate(zip(positives, negatives, strict=True)):
                sets[name, k] = [concept(f"{name}_{k}", pos), concept(f"not_{name}_{k}", neg)]

        class Precomputed(TCAV):  # activations are saved above, in one pass per file for all layers (captum's
            def generate_activation(self, layers, concept) -> None:  # check for saved ones swaps layer and
                pass  # concept, so it would recompute them from a data iterator, one pass per layer)

        probe = _probe_class()(channels, clips, seed)
        tcav = Precomputed(_Logits(tagger.module), qualified, model_id="m", classifier=probe, save_path=save)
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
        logits, outs = _layer_outputs(tagger, layers, x, grad=True)
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
                    result.rows.append({
                        "concept": name, "layer": layer, "target": target, "score": round(float(scores.mean()), 4),
                        "score_std": round(float(scores.std()), 4), "null": round(float(null.mean()), 4), "p": p,
                        "p_bonferroni": min(1.0, p * tests), "significant": p * tests < ALPHA,
                        "direction": "positive" if scores.mean() > null.mean() else "negative"})  # fmt: skip
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
    lines = [f"# TCAV: {result.model}", "",
             f"{result.inputs} input patches, {result.subsets} vectors per concept (disjoint subsets), "
             f"{result.null_vectors} between pairs of random sets for the null, "
             f"Welch t-test, Bonferroni over {len(result.concepts)} concepts x {len(result.layers)} layers x "
             f"{len(result.targets)} targets, "
             f"alpha {ALPHA}.", "", "| target | concept | layer | TCAV score | null | p (Bonferroni) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for target in result.targets:
        for concept in result.concepts:
            row = result.significant(concept, target)
            if row:
                lines.append(f"| {target} | {concept} | {row['layer']} | {row['score']:.2f} ± {row['score_std']:.2f} "
                             f"| {row['null']:.2f} | {row['p_bonferroni']:.2g} |")  # fmt: skip
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
        marks.append([[("+" if rows[c, t]["direction"] == "positive" else "-") if rows[c, t]["significant"] else ""
                       for t in result.targets] for c in result.concepts])  # fmt: skip
    tcav_heatmap(grids, marks, result.layers, result.concepts, result.targets, path, title=result.model)


# -- where a concept sounds ---------------------------------------------------------------------


@dataclass
class Presence:
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
        return {"path": self.path, "concept": self.concept, "layer": self.layer, "probe_accuracy": self.accuracy,
                "patch_seconds": self.patch_seconds,
                "patches": [{"start": round(s, 3), "probability": round(p, 4)}
                            for s, p in zip(self.starts, self.probability, strict=True)],
                "spans": self.spans()}  # fmt: skip


@dataclass
class ConceptProbe:
    """A concept's probe at the layer where it separates the concept best."""

    concept: str
    layer: str
    accuracy: float  # on a held-out third
    model: object  # sklearn LogisticRegression on activations / scale
    scale: float


def fit_probe(tagger: Tagger, concept: str, *, bank: dict[str, list[Path]], randoms: list[list[Path]],
              matched: list[Path], layers: list[str] | None = None, seed: int = 0) -> ConceptProbe:  # fmt: skip
    """``concept``'s clips against its matched clips and the first random set, at each candidate layer
    (one forward pass for all); the layer with the best held-out accuracy wins (a third of the clips
    held out, each concept clip together with its matched twin)."""
    from sklearn.linear_model import LogisticRegression

    if concept not in bank:
        raise ParameterError(f"unknown concept {concept!r}; the folder has {', '.join(bank) or 'none'}")
    if tagger.classical is not None:
        raise ParameterError(f"model {tagger.name} is a classical model: it has no layers for concept vectors")
    layers = check_layers(tagger, layers or default_layers(tagger))
    negatives = matched + [p for r in randoms[:1] for p in r]
    if not negatives:
        raise ParameterError("locating a concept needs negatives: matched clips or a random set in the folder")
    files = bank[concept] + negatives
    found = _file_activations(tagger, layers, files)
    counts = [len(found[f][0]) for f in files]  # patches per clip
    y = np.repeat(np.r_[np.ones(len(bank[concept])), np.zeros(len(negatives))], counts)
    # clip j of the concept and its matched twin j are one group; every other clip is its own
    twin = {len(bank[concept]) + j: j for j in range(len(matched))} if len(matched) == len(bank[concept]) else {}
    groups = np.repeat([twin.get(i, i) for i in range(len(files))], counts)
    train, test = _held_out(y, groups, seed)
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
    hopped = Tagger.from_model(tagger.module, tagger.config, hop=hop)
    patches, duration = hopped.file_patches(path)
    activations = _activations(tagger, [probe.layer], patches)[0].double().numpy()
    probability = probe.model.predict_proba(activations / probe.scale)[:, 1]
    step = hopped.hop_frames * hopped.frame_seconds
    # each patch's first hop of frames, then the last patch whole: the file's log-mel without a second decode
    head = min(hopped.hop_frames, hopped.patch_frames)
    mel = torch.cat([patches[:-1, :head].reshape(-1, patches.shape[-1]), patches[-1]]).numpy()
    mel = mel[: max(1, round(duration / hopped.frame_seconds))]  # a short clip's repeats are not the file
    return Presence(str(path), probe.concept, probe.layer, probe.accuracy, [k * step for k in range(len(patches))],
                    hopped.patch_frames * hopped.frame_seconds, [float(p) for p in probability], mel,
                    duration)  # fmt: skip
