"""Transfer heads: logistic regression on frozen pretrained MusiCNN embeddings.

The embeddings of a track are its patch embeddings (chosen layers, concatenated) averaged
over patches; the head is standardisation + logistic regression whose strength C is chosen
by an inner cross-validation on the training items only. The fitted head becomes a
:class:`~musictag.models.transfer.TransferHead` model folder whose track scores, pooled as
mean logits, equal the fitted pipeline's probabilities exactly.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.preprocessing import StandardScaler

from musictag.data.dataset import Dataset, Item
from musictag.data.splits import kfold_assignment
from musictag.errors import ParameterError
from musictag.evaluation.metrics import task_metrics
from musictag.inference.tagger import Tagger
from musictag.models.config import ModelConfig, activation_for
from musictag.models.model_folder import activate, load_model_folder, save_model_folder
from musictag.models.transfer import TransferHead
from musictag.pretrained.store import resolve_model
from musictag.training.crossval import cv_result
from musictag.training.settings import TransferSettings


def _untrained_head(settings: TransferSettings, labels: list[str], task: str) -> tuple[TransferHead, ModelConfig]:
    backbone, backbone_config = load_model_folder(resolve_model(settings.backbone))
    if backbone_config.architecture != "musicnn":
        raise ParameterError(
            f"transfer heads need a musicnn backbone, {settings.backbone} is {backbone_config.architecture}"
        )
    head = TransferHead(n_classes=len(labels), layers=settings.layers, backbone=backbone_config.model)
    head.backbone.load_state_dict(backbone.state_dict())
    config = ModelConfig(
        name="transfer",
        architecture="musicnn-transfer",
        labels=list(labels),
        model={"n_classes": len(labels), "layers": list(settings.layers), "backbone": backbone_config.model},
        frontend=backbone_config.frontend,
        activation=activation_for(task),
        patch_frames=backbone_config.patch_frames,
        score_pooling="mean_logits",
        patch_hop=settings.hop,
        info={"backbone": settings.backbone, "settings": vars(settings)},
    )
    return head, config


def track_embeddings(items: list[Item], settings: TransferSettings, *, quiet: bool = True) -> dict[str, np.ndarray]:
    """Mean patch embedding of every readable item, by item id (unreadable items are left out)."""
    head, config = _untrained_head(settings, ["_"], "single-label")
    results = Tagger.from_model(head, config).embed_many([item.path for item in items], layer="embedding")
    return {item.id: r.embedding for item, r in zip(items, results, strict=True) if hasattr(r, "embedding")}


#: A feature whose spread over the training rows is below this fraction of the largest spread is
#: constant up to float rounding (musicnn has dead units, ±2e-6 with a 1e-14 spread): standardising
#: it would turn rounding noise into a feature that new audio does not reproduce.
NEAR_CONSTANT = 1e-5


@dataclass
class LinearHead:
    """Standardisation + a linear layer: ``logits = ((x - mean) / scale) @ weight.T + bias``.
    Near-constant features get ``scale`` 1 and zero weight. ``chosen`` says what the inner CV picked."""

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    chosen: dict = field(default_factory=dict)


def fit_head(embeddings: np.ndarray, targets: np.ndarray, task: str, settings: TransferSettings) -> LinearHead:
    """Fit standardisation + logistic regression (C by inner cross-validation for single-label data)."""
    scaler = StandardScaler().fit(embeddings)
    live = scaler.scale_ > NEAR_CONSTANT * scaler.scale_.max()
    z = scaler.transform(embeddings)[:, live]
    chosen = {"features": int(live.sum()), "constant_features": int((~live).sum())}
    if task == "single-label":
        smallest = int(np.bincount(targets).min())
        folds = min(settings.inner_folds, smallest)
        if folds >= 2:
            clf = LogisticRegressionCV(Cs=settings.Cs, cv=folds, scoring="neg_log_loss", max_iter=5000)
        else:
            clf = LogisticRegression(C=float(np.median(settings.Cs)), max_iter=5000)
        with warnings.catch_warnings():  # scikit-learn 1.9 announces default changes we do not rely on
            warnings.simplefilter("ignore", FutureWarning)
            clf.fit(z, targets)
        chosen["C"] = float(np.ravel(clf.C_)[0]) if hasattr(clf, "C_") else clf.C
        weight, bias = clf.coef_, clf.intercept_
        if weight.shape[0] == 1:  # two classes: sklearn keeps one row; softmax needs both
            weight, bias = np.concatenate([-weight / 2, weight / 2]), np.concatenate([-bias / 2, bias / 2])
    else:
        rows = []
        chosen["C"] = float(np.median(settings.Cs))
        for j in range(targets.shape[1]):
            column = targets[:, j]
            if 0 < column.sum() < len(column):
                clf = LogisticRegression(C=chosen["C"], max_iter=5000).fit(z, column)
                rows.append((clf.coef_[0], clf.intercept_[0]))
            else:  # a tag never (or always) present in training: constant score
                rows.append((np.zeros(z.shape[1]), 10.0 if column.sum() else -10.0))
        weight, bias = np.stack([r[0] for r in rows]), np.array([r[1] for r in rows])
    full = np.zeros((weight.shape[0], embeddings.shape[1]))
    full[:, live] = weight
    return LinearHead(scaler.mean_, np.where(live, scaler.scale_, 1.0), full, np.asarray(bias, float), chosen)


def head_scores(embeddings: np.ndarray, head: LinearHead, task: str) -> np.ndarray:
    logits = torch.from_numpy(((embeddings - head.mean) / head.scale) @ head.weight.T + head.bias)
    return activate(logits, activation_for(task)).numpy()


def train_transfer(
    dataset: Dataset,
    items: list[Item],
    settings: TransferSettings,
    out_dir: str | os.PathLike,
    *,
    embeddings: dict[str, np.ndarray] | None = None,
    name: str = "transfer",
) -> Path:
    """Fit a head on ``items`` and save it (with its backbone) as a model folder."""
    embeddings = embeddings if embeddings is not None else track_embeddings(items, settings)
    usable = [item for item in items if item.id in embeddings]
    if not usable:
        raise ParameterError("no readable training items")
    x = np.stack([embeddings[item.id] for item in usable])
    fitted = fit_head(x, dataset.targets(usable), dataset.task, settings)
    module, config = _untrained_head(settings, dataset.vocabulary, dataset.task)
    with torch.no_grad():
        for tensor, value in ((module.mean, fitted.mean), (module.scale, fitted.scale),
                              (module.linear.weight, fitted.weight), (module.linear.bias, fitted.bias)):  # fmt: skip
            tensor.copy_(torch.as_tensor(value, dtype=torch.float32))
    config.name = name
    targets = dataset.targets(usable)
    scores = head_scores(x, fitted, dataset.task)
    fit = dict(fitted.chosen)
    if dataset.task == "single-label":
        fit["train_accuracy"] = float((scores.argmax(1) == targets).mean())
    config.info["fit"] = fit
    config.info["trained_on"] = {"data": dataset.name, "items": len(usable), "ids": [item.id for item in usable]}
    return save_model_folder(out_dir, config, module.state_dict())


def cross_validate_transfer(
    dataset: Dataset, settings: TransferSettings, *, folds: int = 5, seed: int = 0, embeddings: dict | None = None
) -> dict:
    """Stratified (group-aware when items have groups) k-fold CV; backbone embeddings computed once."""
    embeddings = embeddings if embeddings is not None else track_embeddings(dataset.items, settings)
    items = [item for item in dataset.items if item.id in embeddings]
    assignment = np.array(kfold_assignment(items, folds, task=dataset.task, seed=seed))
    x = np.stack([embeddings[item.id] for item in items])
    y = dataset.targets(items)
    per_fold = []
    for fold in range(folds):
        train, test = assignment != fold, assignment == fold
        head = fit_head(x[train], y[train], dataset.task, settings)
        scores = head_scores(x[test], head, dataset.task)
        per_fold.append(task_metrics(dataset.task, y[test], scores, dataset.vocabulary))
    return cv_result(per_fold, folds=folds, seed=seed, left_out=[i.id for i in dataset.items if i.id not in embeddings])
