"""Classical pipelines: an SVM (or logistic regression) on handcrafted descriptors.

Hyper-parameters are chosen by an inner cross-validation on the training items only. A fitted
pipeline becomes a model folder (:mod:`musictag.models.classical`), so ``musictag tag --model``
predicts with it; cross-validation scores each fold's pipeline through the same Tagger path.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from musictag.data.dataset import Dataset, Item, decoded_items
from musictag.data.splits import kfold_pairs
from musictag.errors import ParameterError
from musictag.evaluation.scoring import Excerpts, evaluate_items
from musictag.features.handcrafted import describe
from musictag.inference.tagger import Tagger
from musictag.models.classical import ARCHITECTURE, ClassicalModel, save_classical
from musictag.models.config import ModelConfig
from musictag.training.crossval import cv_result
from musictag.training.settings import ClassicalSettings


def track_descriptors(items: list[Item], settings: ClassicalSettings, *, quiet: bool = True) -> dict[str, np.ndarray]:
    """Descriptor vector per readable item id; unreadable items are reported and left out."""
    return {
        item.id: describe(audio, settings.sample_rate, groups=tuple(settings.features))[0]
        for item, audio in decoded_items(items, sample_rate=settings.sample_rate, quiet=quiet, desc="descriptors")
    }


def _estimator(settings: ClassicalSettings, smallest_class: int):
    if settings.classifier == "svm":
        model, grid = SVC(kernel="rbf"), {"svc__C": settings.Cs, "svc__gamma": settings.gammas}
    elif settings.classifier == "logreg":
        model, grid = LogisticRegression(max_iter=5000), {"logisticregression__C": settings.Cs}
    else:
        raise ParameterError(f"unknown classifier {settings.classifier!r}: use svm or logreg")
    pipeline = make_pipeline(StandardScaler(), model)
    folds = min(settings.inner_folds, smallest_class)
    if folds < 2:
        return pipeline
    return GridSearchCV(pipeline, grid, cv=StratifiedKFold(folds, shuffle=True, random_state=0))


def fit_pipeline(x: np.ndarray, y: np.ndarray, settings: ClassicalSettings) -> tuple[Pipeline, dict]:
    """The fitted pipeline (the inner CV's best, refitted on all of ``x``) and what was chosen."""
    estimator = _estimator(settings, int(np.bincount(y).min())).fit(x, y)
    if isinstance(estimator, GridSearchCV):
        chosen = {key.split("__")[-1]: value for key, value in estimator.best_params_.items()}
        chosen["inner_cv_accuracy"] = float(estimator.best_score_)
        return estimator.best_estimator_, chosen
    return estimator, {}


def _config(dataset: Dataset, settings: ClassicalSettings, name: str, info: dict) -> ModelConfig:
    return ModelConfig(
        name=name,
        architecture=ARCHITECTURE,
        labels=list(dataset.vocabulary),
        activation="softmax",
        info={
            "classical": {
                "groups": list(settings.features),
                "sample_rate": settings.sample_rate,
                "classifier": settings.classifier,
            },
            **info,
        },
    )


def train_classical(
    dataset: Dataset,
    items: list[Item],
    settings: ClassicalSettings,
    out_dir: str | os.PathLike,
    *,
    descriptors: dict[str, np.ndarray] | None = None,
    name: str = "classical",
) -> Path:
    """Fit the pipeline on ``items`` and save it as a model folder."""
    if dataset.task != "single-label":
        raise ParameterError("classical pipelines are for single-label data")
    descriptors = descriptors if descriptors is not None else track_descriptors(items, settings)
    usable = [item for item in items if item.id in descriptors]
    if not usable:
        raise ParameterError("no readable training items")
    x, y = np.stack([descriptors[item.id] for item in usable]), dataset.targets(usable)
    pipeline, chosen = fit_pipeline(x, y, settings)
    chosen["train_accuracy"] = float((pipeline.predict(x) == y).mean())
    info = {"fit": chosen, "trained_on": {"data": dataset.name, "items": len(usable), "ids": [i.id for i in usable]}}
    model = ClassicalModel(pipeline, groups=settings.features, sample_rate=settings.sample_rate)
    return save_classical(out_dir, _config(dataset, settings, name, info), model)


def cross_validate_classical(
    dataset: Dataset,
    settings: ClassicalSettings,
    *,
    folds: int = 5,
    seed: int = 0,
    excerpts: Excerpts | None = None,
    descriptors: dict[str, np.ndarray] | None = None,
) -> dict:
    """k-fold CV of the classical pipeline on a single-label data set; each fold's pipeline scores the
    held-out tracks (and their ``excerpts``) as ``musictag tag --model`` would."""
    if dataset.task != "single-label":
        raise ParameterError("classical pipelines are for single-label data")
    descriptors = descriptors if descriptors is not None else track_descriptors(dataset.items, settings)
    items = [item for item in dataset.items if item.id in descriptors]
    per_fold = []
    for train, test in kfold_pairs(items, folds, task=dataset.task, seed=seed):
        x, y = np.stack([descriptors[item.id] for item in train]), dataset.targets(train)
        pipeline, _ = fit_pipeline(x, y, settings)
        model = ClassicalModel(pipeline, groups=settings.features, sample_rate=settings.sample_rate)
        tagger = Tagger.from_model(model, _config(dataset, settings, "fold", {}))
        per_fold.append(evaluate_items(tagger, dataset, test, excerpts=excerpts))
    return cv_result(
        per_fold, folds=folds, seed=seed, left_out=[i.id for i in dataset.items if i.id not in descriptors]
    )
