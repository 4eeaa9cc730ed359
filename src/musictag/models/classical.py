"""Classical models (an SVM or logistic regression on handcrafted descriptors) as model folders.

The fitted scikit-learn pipeline is stored with skops (``model.skops``), whose loader rebuilds
objects from their recorded parameters and refuses every type not on :data:`TRUSTED`: nothing is
unpickled. A folder's ``config.json`` says ``architecture: classical`` and which descriptor groups
and sample rate the pipeline reads, so ``Tagger(folder)`` and ``musictag tag --model`` use it like
any other model (one score row per file: the descriptors summarise the whole file).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from musictag.errors import MusictagError
from musictag.models.config import ModelConfig

ARCHITECTURE = "classical"
SKOPS_NAME = "model.skops"
#: The only types a classical model file may contain.
TRUSTED = [
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.svm._classes.SVC",
    "sklearn.linear_model._logistic.LogisticRegression",
]


class ClassicalModel:
    """A fitted pipeline and the descriptors it reads."""

    def __init__(self, pipeline, *, groups: list[str], sample_rate: int):
        self.pipeline, self.groups, self.sample_rate = pipeline, list(groups), int(sample_rate)

    def describe(self, audio: np.ndarray) -> np.ndarray:
        """The descriptor vector of mono audio at the pipeline's sample rate, ``(1, n_features)``."""
        from musictag.features.handcrafted import describe

        vector, _ = describe(audio, self.sample_rate, groups=tuple(self.groups))
        return vector

    def probabilities(self, descriptors: np.ndarray) -> np.ndarray:
        """Class scores ``(n, classes)`` of descriptor rows, in the folder's label order, summing to 1:
        logistic regression's probabilities, or the softmax of an SVM's one-vs-rest decision values
        (their argmax is the SVM's prediction; libsvm's Platt probabilities can disagree with it on
        small data sets, and scikit-learn deprecates them)."""
        rows = np.atleast_2d(descriptors)
        if hasattr(self.pipeline[-1], "predict_proba") and not hasattr(self.pipeline[-1], "support_vectors_"):
            return self.pipeline.predict_proba(rows)
        decision = self.pipeline.decision_function(rows)
        if decision.ndim == 1:  # two classes: one signed margin
            decision = np.stack([-decision / 2, decision / 2], axis=1)
        shifted = np.exp(decision - decision.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)


def save_classical(folder: str | os.PathLike, config: ModelConfig, model: ClassicalModel) -> Path:
    """Write ``model.skops`` then ``config.json``, each atomically."""
    import json
    from dataclasses import asdict

    import skops.io as sio

    from musictag.utils.atomic import atomic_open

    folder = Path(folder)
    with atomic_open(folder / SKOPS_NAME, "wb") as handle:
        handle.write(sio.dumps(model.pipeline))
    with atomic_open(folder / "config.json") as handle:  # last: its presence marks a complete folder
        json.dump(asdict(config), handle, indent=2)
    return folder


def load_classical(folder: Path, config: ModelConfig) -> ClassicalModel:
    """The scikit-learn pipeline of a classical model folder (skops, trusted types only)."""
    import skops.io as sio

    path = folder / SKOPS_NAME
    try:
        data = path.read_bytes()
        untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in TRUSTED]
        if untrusted:
            raise MusictagError(f"{path}: refusing to load types that are not trusted: {', '.join(untrusted)}")
        pipeline = sio.loads(data, trusted=TRUSTED)
    except MusictagError:
        raise
    except Exception as exc:  # a damaged file: skops raises zipfile, JSON and type errors
        raise MusictagError(f"{path}: damaged classical model ({type(exc).__name__}: {exc}); train it again") from None
    info = config.info.get("classical", {})
    return ClassicalModel(pipeline, groups=info.get("groups", []), sample_rate=info.get("sample_rate", 22050))
