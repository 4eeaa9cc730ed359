"""Transfer heads: logistic regression or a small MLP on frozen pretrained embeddings.

A model meets new music as short clips, often one patch long, so by default the head learns from
what it will meet: every patch of every training track (every ``hop`` seconds) and a few short
random crops per track (padded to a patch as the tagger pads them), each with the track's label.
The inner cross-validation keeps each track's rows together and scores held-out tracks' crops, to
choose the head (logistic regression's strength, or an MLP's weight decay) and, among candidate
sets, the backbones. Features whose spread is rounding noise are dropped. The fitted head becomes a
:class:`~musictag.models.backbone_head.TransferHead` model folder that scores each patch exactly as the
head was fitted, a track by its patches' mean logits.
"""

from __future__ import annotations

import math
import os
import warnings
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from musictag.audio.arrays import AudioArray
from musictag.data.dataset import Dataset, Item, decoded_items
from musictag.data.splits import kfold_pairs
from musictag.errors import ParameterError
from musictag.evaluation.scoring import Excerpts, evaluate_items
from musictag.inference.tagger import Tagger
from musictag.models.backbone_head import BACKBONES, TransferHead
from musictag.models.config import ModelConfig, activation_for
from musictag.models.model_folder import activate, load_model_folder, save_model_folder
from musictag.pretrained.store import resolve_model
from musictag.training.crossval import cv_result
from musictag.training.perturb import perturbed_crop
from musictag.training.settings import TransferSettings

#: A feature whose spread over the training rows is below this fraction of the largest spread is
#: constant up to float rounding (musicnn has dead units, ±2e-6 with a 1e-14 spread): standardising
#: it would turn rounding noise into a feature that new audio does not reproduce.
NEAR_CONSTANT = 1e-5


def untrained_head(
    settings: TransferSettings,
    labels: list[str],
    task: str,
    *,
    backbones: list[str] | None = None,
    hidden: list[int] = (),
) -> tuple[TransferHead, ModelConfig]:
    """A head on ``backbones`` (default: all of the settings') with their pretrained weights."""
    parts, states, frontend, patch_frames = [], [], None, 187
    for name in backbones or settings.backbones:
        module, config = load_model_folder(resolve_model(name))
        if config.architecture not in BACKBONES:
            raise ParameterError(f"transfer backbones must be musicnn or vgg models, {name} is {config.architecture}")
        if frontend not in (None, config.frontend):
            raise ParameterError(f"transfer backbones must share a front end; {name}'s differs")
        frontend, patch_frames = config.frontend, config.patch_frames
        layers = [layer for layer in settings.layers if layer in module.embedding_dims] or ["penultimate"]
        parts.append({"architecture": config.architecture, "model": config.model, "layers": layers})
        states.append(module.state_dict())
    head = TransferHead(n_classes=len(labels), backbones=parts, hidden=list(hidden))
    for backbone, state in zip(head.backbones, states, strict=True):
        backbone.load_state_dict(state)
    config = ModelConfig(
        name="transfer",
        architecture="transfer",
        labels=list(labels),
        model={"n_classes": len(labels), "backbones": parts, "hidden": list(hidden)},
        frontend=frontend,
        activation=activation_for(task),
        patch_frames=patch_frames,
        score_pooling="mean_logits",
        patch_hop=settings.hop,
        info={"backbones": list(backbones or settings.backbones), "settings": asdict(settings)},
    )
    return head, config


@dataclass
class TrackSamples:
    """One track's embeddings: every patch (every ``hop`` seconds) and its short random crops."""

    patches: np.ndarray
    crops: np.ndarray

    def columns(self, part: slice) -> TrackSamples:
        """The samples with only the feature columns ``part``."""
        return TrackSamples(self.patches[:, part], self.crops[:, part])


def embed_tracks(items: list[Item], settings: TransferSettings, *, quiet: bool = True) -> dict[str, TrackSamples]:
    """The samples of every readable item, by id, with every backbone's layers side by side
    (unreadable items are reported and left out). They are kept in the embedding cache
    (:mod:`musictag.training.embedding_cache`), so a file's backbones run once per settings."""
    from musictag.training.embedding_cache import EmbeddingCache

    cache = EmbeddingCache(settings)
    entries = {item.id: cache.entry(item) for item in items}
    found = {key: cache.load(entry) for key, entry in entries.items()}
    out = {key: TrackSamples(*kept) for key, kept in found.items() if kept is not None}
    missing = [item for item in items if item.id not in out]
    if not missing:  # the backbones are not even loaded
        return {item.id: out[item.id] for item in items}
    head, config = untrained_head(settings, ["_"], "single-label")
    tagger = Tagger.from_model(head, config)
    rate = tagger.frontend.config.sample_rate
    crops = cache.crops
    for item, audio in decoded_items(missing, sample_rate=rate, quiet=quiet, desc="embeddings"):
        patches = tagger.embed(audio, sample_rate=rate, layer="embedding").per_patch
        rng = np.random.default_rng([settings.seed, zlib.crc32(item.id.encode("utf-8", "surrogateescape"))])
        clips = []
        for seconds in rng.uniform(*settings.crop_seconds, crops):
            length = min(len(audio), max(1, int(seconds * rate)))
            start = int(rng.integers(0, len(audio) - length + 1))
            clips.append(AudioArray(audio[start : start + length], rate))
        for seconds in rng.uniform(*settings.crop_seconds, cache.perturbed):  # drawn after the plain crops
            clips.append(perturbed_crop(audio, rate, seconds, rng))
        embedded = [r.embedding for r in tagger.embed_many(clips, layer="embedding")]
        out[item.id] = TrackSamples(patches, np.stack(embedded) if embedded else np.zeros((0, patches.shape[1])))
        cache.save(entries[item.id], out[item.id].patches, out[item.id].crops)
    return {item.id: out[item.id] for item in items if item.id in out}  # in the items' order


@dataclass
class ExtraRows:
    """Rows of other data (``transfer.extra``, e.g. synthetic clips) that train every head, inner folds
    included, and are never scored: features (standardised by their own source's mean and spread), class
    index and weight of each row."""

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray

    def columns(self, index: np.ndarray) -> ExtraRows:
        """The rows with only the feature columns ``index``."""
        return ExtraRows(self.x[:, index], self.y, self.weight)

    def joined(self, other: ExtraRows) -> ExtraRows:
        """These rows and ``other``'s."""
        pairs = ((self.x, other.x), (self.y, other.y), (self.weight, other.weight))
        return ExtraRows(*(np.concatenate(pair) for pair in pairs))


def extra_rows(settings: TransferSettings, vocabulary: list[str], *, quiet: bool = True) -> ExtraRows | None:
    """Every ``settings.extra`` data set's rows (each clip's patches, or its mean for ``samples: tracks``),
    labelled by index into ``vocabulary``, weighted as the settings say (None without extra data).

    Each source is standardised by its own mean and spread, as the real rows are by theirs: another
    domain's features sit elsewhere (synthetic clips' far from real music's), and standardised by the
    real rows' statistics they would teach the head where the other domain lies rather than what
    tells its classes apart."""
    from musictag.data.load import open_dataset
    from musictag.training.synthetic_source import is_synthetic, synthetic_manifest

    xs, ys, weights = [], [], []
    for spec, weight in settings.extra.items():
        data = open_dataset(str(synthetic_manifest(spec, vocabulary, quiet=quiet)) if is_synthetic(spec) else spec)
        unknown = sorted({item.labels[0] for item in data.items if item.labels} - set(vocabulary))
        if unknown:
            raise ParameterError(
                f"transfer.extra {spec}: labels {', '.join(unknown)} are not the data's ({', '.join(vocabulary)})"
            )
        samples = embed_tracks(data.items, replace(settings, crops=0), quiet=quiet)
        source = []
        for item in data.items:
            if item.id in samples and item.labels:
                patches = samples[item.id].patches
                source.append(patches.mean(axis=0, keepdims=True) if settings.samples == "tracks" else patches)
                ys += [vocabulary.index(item.labels[0])] * len(source[-1])
                weights += [float(weight)] * len(source[-1])
        if source:
            rows = np.concatenate(source).astype(np.float64)
            xs.append((rows - rows.mean(axis=0)) / np.maximum(rows.std(axis=0), 1e-12))
    if not xs:
        return None
    return ExtraRows(np.concatenate(xs), np.asarray(ys), np.asarray(weights))


@dataclass
class ReferenceRows:
    """Features of real audio whose labels are never read (``transfer.reference``): every patch's row
    and the track it comes from."""

    x: np.ndarray
    track: np.ndarray

    def columns(self, index: np.ndarray) -> ReferenceRows:
        """The rows with only the feature columns ``index``."""
        return ReferenceRows(self.x[:, index], self.track)

    def track_means(self) -> np.ndarray:
        """One row per track: the mean of its patches."""
        sums = np.zeros((int(self.track.max()) + 1, self.x.shape[1]))
        np.add.at(sums, self.track, self.x)
        return sums / np.bincount(self.track)[:, None]


def reference_rows(settings: TransferSettings, *, quiet: bool = True) -> ReferenceRows | None:
    """Every patch's features of ``settings.reference``'s audio (None without one)."""
    from musictag.data.load import reference_items

    if not settings.reference:
        return None
    items = reference_items(settings.reference, "transfer.reference")
    samples = embed_tracks(items, replace(settings, crops=0), quiet=quiet)
    if not samples:
        raise ParameterError(f"transfer.reference {settings.reference}: no readable audio")
    patches = [s.patches for s in samples.values()]
    track = np.repeat(np.arange(len(patches)), [len(p) for p in patches])
    return ReferenceRows(np.concatenate(patches).astype(np.float32), track)


@dataclass
class FittedHead:
    """Standardisation and the head's layers ``[(weight, bias), ...]`` (ReLU between them);
    near-constant features get ``scale`` 1 and zero weight. ``chosen`` says what was picked."""

    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    chosen: dict = field(default_factory=dict)

    @property
    def hidden(self) -> list[int]:
        """The widths of the hidden layers (empty for logistic regression)."""
        return [weight.shape[0] for weight, _ in self.layers[:-1]]

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The head's logits for raw features ``x`` (standardised here)."""
        return _forward(self.layers, (x - self.mean) / self.scale)


def _forward(layers: list[tuple[np.ndarray, np.ndarray]], h: np.ndarray) -> np.ndarray:
    """Logits of standardised rows ``h`` through ``layers`` (ReLU between them)."""
    for n, (weight, bias) in enumerate(layers):
        h = h @ weight.T + bias
        if n < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


def _rows(samples: list[TrackSamples], targets: np.ndarray, mode: str):
    """Training rows (x, y), the track each row comes from, and which rows are crops."""
    if mode == "tracks":
        x = np.stack([s.patches.mean(axis=0) for s in samples])
        return x, targets, np.arange(len(samples)), np.ones(len(samples), bool)
    xs, ys, groups, crops = [], [], [], []
    for track, (sample, target) in enumerate(zip(samples, targets, strict=True)):
        for part, is_crop in ((sample.patches, False), (sample.crops, True)):
            xs.append(part)
            ys += [target] * len(part)
            groups += [track] * len(part)
            crops += [is_crop] * len(part)
    return np.concatenate(xs), np.asarray(ys), np.asarray(groups), np.asarray(crops)


def _classifier(head: str, value: float, hidden: list[int], seed: int):
    if head == "logreg":
        return LogisticRegression(C=value, max_iter=3000)
    return MLPClassifier(tuple(hidden), alpha=value, max_iter=300, random_state=seed)


def _layers(clf) -> list[tuple[np.ndarray, np.ndarray]]:
    """A fitted classifier's layers as (weight, bias), the output giving one logit per class."""
    if isinstance(clf, LogisticRegression):
        layers = [(clf.coef_, clf.intercept_)]
    else:
        layers = [(w.T, b) for w, b in zip(clf.coefs_, clf.intercepts_, strict=True)]
    weight, bias = layers[-1]
    if weight.shape[0] == 1:  # two classes: one logit z; softmax over (-z/2, z/2) gives the same probability
        layers[-1] = (np.concatenate([-weight / 2, weight / 2]), np.concatenate([-bias / 2, bias / 2]))
    return layers


def _averaged(members: list[list[tuple[np.ndarray, np.ndarray]]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """One network whose logits are the mean of ``members``' (same shapes, at least one hidden layer):
    their hidden units side by side, each member's connected only to its own, the output divided by
    their number."""
    from scipy.linalg import block_diag

    if len(members) == 1:
        return members[0]
    first = (np.concatenate([m[0][0] for m in members]), np.concatenate([m[0][1] for m in members]))
    middle = [
        (block_diag(*[m[depth][0] for m in members]), np.concatenate([m[depth][1] for m in members]))
        for depth in range(1, len(members[0]) - 1)
    ]
    last = (np.concatenate([m[-1][0] for m in members], axis=1) / len(members), np.mean([m[-1][1] for m in members], 0))
    return [first, *middle, last]


def _fit_quietly(clf, x, y, extra: ExtraRows | None = None):
    """``clf`` fitted on rows ``x, y`` (weight 1) and ``extra``'s (at their weights)."""
    weight = None
    if extra is not None:
        x, y = np.concatenate([x, extra.x]), np.concatenate([y, extra.y])
        weight = np.concatenate([np.ones(len(x) - len(extra.x)), extra.weight])
    with warnings.catch_warnings():  # convergence and scikit-learn's future-default notices
        warnings.simplefilter("ignore")
        return clf.fit(x, y, sample_weight=weight)


def _inner_score(z, y, groups, crops, head, value, settings, extra: ExtraRows | None = None) -> float:
    """Accuracy on held-out tracks' crops (all their rows when there are no crops), tracks kept whole;
    ``extra`` rows train every fold."""
    track_labels = {group: label for group, label in zip(groups.tolist(), y.tolist(), strict=True)}
    folds = min(settings.inner_folds, int(np.bincount(list(track_labels.values())).min()))
    if folds < 2:
        return float("nan")
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=settings.seed)
    correct = []
    for train, test in splitter.split(z, y, groups):
        clf = _fit_quietly(_classifier(head, value, settings.hidden, settings.seed), z[train], y[train], extra)
        scored = test[crops[test]] if crops[test].any() else test
        correct.append(clf.predict(z[scored]) == y[scored])
    return float(np.concatenate(correct).mean())


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    task: str,
    settings: TransferSettings,
    *,
    groups: np.ndarray | None = None,
    crops: np.ndarray | None = None,
    always_score: bool = False,
    extra: ExtraRows | None = None,
    reference: ReferenceRows | None = None,
) -> FittedHead:
    """Standardise, drop near-constant features, and fit the head the inner CV scores best (with a
    single candidate the inner CV runs only when ``always_score``, e.g. to compare backbone sets).
    ``extra`` rows (single-label only, standardised by :func:`extra_rows`) train beside ``x`` with
    their weights; the model's standardisation is the real rows', as the audio it meets is real. With
    ``reference`` rows (real audio), the model standardises what it meets by their mean and spread
    instead of the training rows', and with ``settings.pseudo_labels`` the head is refitted on its
    surest guesses about their tracks as well (:class:`~musictag.training.settings.TransferSettings`)."""
    groups = np.arange(len(x)) if groups is None else groups
    crops = np.ones(len(x), bool) if crops is None else crops
    scaler = StandardScaler().fit(x)
    live = scaler.scale_ > NEAR_CONSTANT * scaler.scale_.max()
    if reference is not None:  # the head's inputs keep their scale; the audio they come from is real
        reference_mean = reference.x.mean(axis=0)
        reference_scale = np.where(live, np.maximum(reference.x.std(axis=0), NEAR_CONSTANT * scaler.scale_.max()), 1.0)
        if settings.pseudo_labels and task != "single-label":
            raise ParameterError("transfer.pseudo_labels: self-training is for single-label data (one class a clip)")
    z = scaler.transform(x)[:, live]
    chosen = {"features": int(live.sum()), "constant_features": int((~live).sum()), "rows": len(x)}
    if extra is not None:
        if task != "single-label":
            raise ParameterError("transfer.extra: extra training data is for single-label data (one class a clip)")
        extra = ExtraRows(extra.x[:, live], extra.y, extra.weight)  # standardised by their own source
        chosen["extra_rows"] = len(extra.x)
    if task == "single-label":
        grid = [
            (head, value) for head in settings.heads for value in (settings.Cs if head == "logreg" else settings.alphas)
        ]
        scored = len(grid) > 1 or always_score
        scores = [
            _inner_score(z, y, groups, crops, head, value, settings, extra) if scored else float("nan")
            for head, value in grid
        ]
        best = int(np.nanargmax(scores)) if not np.isnan(scores).all() else len(grid) // 2
        head, value = grid[best]
        members = settings.ensemble if head == "mlp" else 1  # logistic regression has one optimum

        def fitted(more: ExtraRows | None) -> list[tuple[np.ndarray, np.ndarray]]:
            return _averaged(
                [
                    _layers(_fit_quietly(_classifier(head, value, settings.hidden, settings.seed + k), z, y, more))
                    for k in range(members)
                ]
            )

        layers = fitted(extra)
        chosen.update(head=head, **{"C" if head == "logreg" else "alpha": value}, members=members)
        if not np.isnan(scores[best]):
            chosen["inner_cv_crop_accuracy"] = scores[best]
        if reference is not None and settings.pseudo_labels:
            real = ReferenceRows(((reference.x - reference_mean) / reference_scale)[:, live], reference.track)
            for _ in range(2):  # the second round relabels with the head the first one taught
                pseudo, tracks = _pseudo_labelled(layers, real, settings, weight=settings.pseudo_weight * len(z))
                layers = fitted(pseudo if extra is None else extra.joined(pseudo))
            chosen["pseudo_labelled_tracks"] = tracks
    else:  # one logistic regression per tag
        value = float(np.median(settings.Cs))
        rows = []
        for j in range(y.shape[1]):
            column = y[:, j]
            if 0 < column.sum() < len(column):
                clf = _fit_quietly(LogisticRegression(C=value, max_iter=3000), z, column)
                rows.append((clf.coef_[0], clf.intercept_[0]))
            else:  # a tag never (or always) present in training: constant score
                rows.append((np.zeros(z.shape[1]), 10.0 if column.sum() else -10.0))
        layers = [(np.stack([r[0] for r in rows]), np.array([r[1] for r in rows]))]
        chosen.update(head="logreg", C=value)
    first, bias = layers[0]
    full = np.zeros((first.shape[0], x.shape[1]))
    full[:, live] = first
    layers[0] = (full, bias)
    mean, scale = scaler.mean_, scaler.scale_
    if task == "single-label":  # on the rows as the head learnt them (before any reference standardisation)
        chosen["train_accuracy"] = float(
            (FittedHead(mean, np.where(live, scale, 1.0), layers).logits(x).argmax(1) == y).mean()
        )
    scale = np.where(live, scale, 1.0)
    if reference is not None:
        mean, scale = reference_mean, reference_scale
        chosen["reference_rows"] = len(reference.x)
    return FittedHead(mean, scale, layers, chosen)


def _pseudo_labelled(
    layers: list[tuple[np.ndarray, np.ndarray]], real: ReferenceRows, settings: TransferSettings, *, weight: float
) -> tuple[ExtraRows, int]:
    """Rows of the reference tracks the head is surest of, class by class, labelled with its guess
    (tracks: a track's mean; patches: each of its patches), ``weight`` in all; and how many tracks."""
    from scipy.special import softmax

    means = real.track_means()
    probability = softmax(_forward(layers, means), axis=1)
    guess = probability.argmax(axis=1)
    per_class = math.ceil(settings.pseudo_labels * len(means) / probability.shape[1])
    picked = []
    for label in np.unique(guess):
        mine = np.flatnonzero(guess == label)
        picked += mine[np.argsort(-probability[mine, label], kind="stable")][:per_class].tolist()
    if settings.samples == "tracks":
        track = np.sort(picked)
        x = means[track]
    else:
        rows = np.isin(real.track, picked)
        track, x = real.track[rows], real.x[rows]
    return ExtraRows(x, guess[track], np.full(len(x), weight / len(x))), len(picked)


def head_scores(embeddings: np.ndarray, head: FittedHead, task: str) -> np.ndarray:
    """Scores of embedding rows (patches, or track means for a linear head)."""
    return activate(torch.from_numpy(head.logits(embeddings)), activation_for(task)).numpy()


def _backbone_columns(settings: TransferSettings) -> dict[str, slice]:
    """Where each backbone's features sit in the concatenated embedding."""
    head, _ = untrained_head(settings, ["_"], "single-label")
    columns, start = {}, 0
    for name, backbone, layers in zip(settings.backbones, head.backbones, head.layers, strict=True):
        width = sum(backbone.embedding_dims[layer] for layer in layers)
        columns[name] = slice(start, start + width)
        start += width
    return columns


def fit_transfer(
    dataset: Dataset,
    items: list[Item],
    samples: dict[str, TrackSamples],
    settings: TransferSettings,
    *,
    extra: ExtraRows | None = None,
    reference: ReferenceRows | None = None,
) -> tuple[TransferHead, ModelConfig]:
    """Choose the backbone set (inner CV), fit the head on ``items`` (and ``extra`` rows) and build the
    model (standardising by ``reference`` rows where given)."""
    usable = [item for item in items if item.id in samples]
    if not usable:
        raise ParameterError("no readable training items")
    targets = dataset.targets(usable)
    sets = settings.backbone_sets or [settings.backbones]
    columns = _backbone_columns(settings) if len(sets) > 1 or sets[0] != settings.backbones else None
    best = None
    for chosen in sets:
        picked, extra_picked, reference_picked = [samples[item.id] for item in usable], extra, reference
        if columns is not None:
            index = np.concatenate([np.arange(columns[name].start, columns[name].stop) for name in chosen])
            picked = [TrackSamples(s.patches[:, index], s.crops[:, index]) for s in picked]
            extra_picked = extra.columns(index) if extra is not None else None
            reference_picked = reference.columns(index) if reference is not None else None
        x, y, groups, crops = _rows(picked, targets, settings.samples)
        fitted = fit_head(
            x,
            y,
            dataset.task,
            settings,
            groups=groups,
            crops=crops,
            always_score=len(sets) > 1,
            extra=extra_picked,
            reference=reference_picked,
        )
        score = fitted.chosen.get("inner_cv_crop_accuracy", 0.0)
        if best is None or score > best[0]:
            best = (score, chosen, fitted)
    _, chosen, fitted = best
    module, config = untrained_head(settings, dataset.vocabulary, dataset.task, backbones=chosen, hidden=fitted.hidden)
    linears = [layer for layer in module.head if isinstance(layer, torch.nn.Linear)]
    with torch.no_grad():
        module.mean.copy_(torch.as_tensor(fitted.mean, dtype=torch.float32))
        module.scale.copy_(torch.as_tensor(fitted.scale, dtype=torch.float32))
        for linear, (weight, bias) in zip(linears, fitted.layers, strict=True):
            linear.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    fit = {**fitted.chosen, "backbones": list(chosen)}
    config.info["fit"] = fit
    config.info["trained_on"] = {"data": dataset.name, "items": len(usable), "ids": [item.id for item in usable]}
    return module, config


def train_transfer(
    dataset: Dataset,
    items: list[Item],
    settings: TransferSettings,
    out_dir: str | os.PathLike,
    *,
    samples: dict[str, TrackSamples] | None = None,
    extra: ExtraRows | None = None,
    reference: ReferenceRows | None = None,
    name: str = "transfer",
) -> Path:
    """Fit a head on ``items`` (and ``extra`` rows; standardised by ``reference`` rows where given) and
    save it (with its backbones) as a model folder."""
    samples = samples if samples is not None else embed_tracks(items, settings)
    module, config = fit_transfer(dataset, items, samples, settings, extra=extra, reference=reference)
    return save_model_folder(out_dir, replace(config, name=name), module.state_dict())


def cross_validate_transfer(
    dataset: Dataset,
    settings: TransferSettings,
    *,
    folds: int = 5,
    seed: int = 0,
    samples: dict[str, TrackSamples] | None = None,
    excerpts: Excerpts | None = None,
    extra: ExtraRows | None = None,
    reference: ReferenceRows | None = None,
) -> dict:
    """Stratified (group-aware when items have groups) k-fold CV; the backbones run once per track for
    training, and each fold's model scores its held-out tracks (and their ``excerpts``) as ``musictag
    tag`` would."""
    samples = samples if samples is not None else embed_tracks(dataset.items, settings)
    items = [item for item in dataset.items if item.id in samples]
    per_fold = []
    for train, test in kfold_pairs(items, folds, task=dataset.task, seed=seed):
        module, config = fit_transfer(dataset, train, samples, settings, extra=extra, reference=reference)
        per_fold.append(evaluate_items(Tagger.from_model(module, config), dataset, test, excerpts=excerpts))
    return cv_result(per_fold, folds=folds, seed=seed, left_out=[i.id for i in dataset.items if i.id not in samples])
