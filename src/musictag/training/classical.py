"""Classical pipelines: an SVM (or logistic regression) on handcrafted descriptors.

Hyper-parameters are chosen by an inner cross-validation on the training items only. This
version evaluates them by k-fold cross-validation; exporting them as taggable model folders
is not supported yet.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from musictag.audio.stream import load
from musictag.data.dataset import Dataset, Item
from musictag.data.splits import kfold_assignment
from musictag.errors import MusictagError, ParameterError
from musictag.evaluation.metrics import classification_metrics
from musictag.features.handcrafted import describe
from musictag.training.crossval import cv_result
from musictag.training.settings import ClassicalSettings
from musictag.utils.progress import progress, report


def track_descriptors(items: list[Item], settings: ClassicalSettings, *, quiet: bool = True) -> dict[str, np.ndarray]:
    """Descriptor vector per readable item id; unreadable items are reported and left out."""
    out = {}
    with progress(len(items), quiet=quiet, desc="descriptors") as bar:
        for item in items:
            try:
                out[item.id], _ = describe(load(item.path, sample_rate=settings.sample_rate), settings.sample_rate,
                                           groups=tuple(settings.features))  # fmt: skip
            except MusictagError as exc:
                report(f"musictag: {exc} (left out)")
            bar.update(1)
    return out


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


def cross_validate_classical(dataset: Dataset, settings: ClassicalSettings, *, folds: int = 5, seed: int = 0) -> dict:
    """k-fold CV of the classical pipeline on a single-label data set."""
    if dataset.task != "single-label":
        raise ParameterError("classical pipelines are for single-label data")
    descriptors = track_descriptors(dataset.items, settings)
    items = [item for item in dataset.items if item.id in descriptors]
    assignment = np.array(kfold_assignment(items, folds, task=dataset.task, seed=seed))
    x, y = np.stack([descriptors[item.id] for item in items]), dataset.targets(items)
    per_fold = []
    for fold in range(folds):
        train, test = assignment != fold, assignment == fold
        estimator = _estimator(settings, int(np.bincount(y[train]).min())).fit(x[train], y[train])
        scores = np.eye(len(dataset.vocabulary))[estimator.predict(x[test])]
        per_fold.append(classification_metrics(y[test], scores, dataset.vocabulary))
    return cv_result(
        per_fold, folds=folds, seed=seed, left_out=[i.id for i in dataset.items if i.id not in descriptors]
    )
