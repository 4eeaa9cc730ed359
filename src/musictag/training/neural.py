"""Train zoo models with Lightning on cached log-mel features: one split, or k-fold cross-validation."""

from __future__ import annotations

import inspect
import logging
import os
import sys
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from musictag.data.dataset import Dataset, Item
from musictag.data.splits import group_kfold, stratified_group_kfold
from musictag.errors import ParameterError
from musictag.evaluation.tagger import evaluate_items
from musictag.features.cache import FeatureCache
from musictag.features.mel import FrontendConfig
from musictag.features.presets import frontend_from
from musictag.inference.tagger import Tagger, resolve_model
from musictag.models import ARCHITECTURES, build_model
from musictag.models.folder import ModelConfig, is_model_folder, load_model_folder, save_model_folder
from musictag.training.augment import AugmentSettings
from musictag.training.crossval import cv_result
from musictag.training.datasets import CropSet, TrackSet, cached_features, collate_tracks
from musictag.training.task import ExportBest, TaggingTask
from musictag.utils.progress import report

LOGGERS = ("tensorboard", "wandb", "mlflow")
for _name in ("lightning.pytorch", "lightning.fabric"):  # hardware banners and tips: not for our users
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass
class NeuralSettings:
    """The ``neural`` section of a recipe.

    ``init`` starts from a pretrained musictag model (``mtt-musicnn``, ``msd-musicnn``) or a
    model folder: its architecture, settings and front end are reused and every weight that
    fits is copied (the classifier is new when the labels differ). ``patch_seconds`` is the
    crop length; ``region_seconds`` keeps training and validation to each track's first
    seconds; ``eval_hop`` is the seconds between whole-track patches (default: the patch).
    ``target`` overrides settings for the synthetic-data modes that train on the real target
    alone (``trg_only``, ``TL``, ``FT``), e.g. more crops from its few, long tracks.
    """

    architecture: str | None = None
    model: dict = field(default_factory=dict)
    frontend: str | dict | None = None
    init: str | None = None
    freeze: list[str] = field(default_factory=list)  # top-level layers kept fixed (e.g. musicnn's front end)
    patch_seconds: float = 3.0
    region_seconds: float | None = None
    eval_hop: float | None = None
    crops_per_track: int = 8
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-3
    backbone_lr: float | None = None
    weight_decay: float = 0.0
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1
    label_smoothing: float = 0.0
    patience: int | None = None  # early stopping on the validation metric
    augment: dict = field(default_factory=dict)
    loggers: list[str] = field(default_factory=list)  # besides the CSV log: tensorboard, wandb, mlflow
    loader_workers: int = 0
    feature_workers: int = 2
    cache: str | None = None
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | None = None
    seed: int = 0
    target: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.target) - set(self.__dataclass_fields__) | ({"target"} & set(self.target))
        if unknown:
            raise ParameterError(f"unknown neural.target settings: {', '.join(sorted(unknown))}")
        if self.init is None and self.architecture not in ARCHITECTURES:
            raise ParameterError(f"neural.architecture must be one of {', '.join(ARCHITECTURES)} (or give neural.init)")
        unknown = set(self.loggers) - set(LOGGERS)
        if unknown:
            raise ParameterError(f"unknown loggers {', '.join(sorted(unknown))}; choose from {', '.join(LOGGERS)}")
        self.augmentation = AugmentSettings(**self.augment)


@dataclass
class _Plan:
    """The model to train and how to feed it, resolved from the settings and the data set."""

    architecture: str
    model: torch.nn.Module
    settings: dict
    frontend: FrontendConfig
    patch_frames: int
    hop_frames: int
    limit: int | None
    freeze: list[str]


def _with_defaults(cls: type, settings: dict, **derived) -> dict:
    """Fill the constructor arguments a model takes from the data (classes, mels, frames) unless set."""
    accepted = inspect.signature(cls).parameters
    return {**{k: v for k, v in derived.items() if k in accepted and k not in settings}, **settings}


def plan_model(settings: NeuralSettings, labels: list[str]) -> _Plan:
    """Build the model (fresh, or initialised from ``init``) and its front end."""
    start = None
    if settings.init:
        start, start_config = load_model_folder(resolve_model(settings.init))
        architecture = start_config.architecture
        frontend = frontend_from(settings.frontend or start_config.frontend)
        model_settings = {**start_config.model, "n_classes": len(labels), **settings.model}
    else:
        architecture, frontend = settings.architecture, frontend_from(settings.frontend or "musicnn")
        model_settings = dict(settings.model)
    seconds_per_frame = frontend.hop_length / frontend.sample_rate
    patch_frames = max(1, round(settings.patch_seconds / seconds_per_frame))
    cls = ARCHITECTURES[architecture]
    model_settings = _with_defaults(cls, model_settings, n_classes=len(labels), n_mels=frontend.n_mels,
                                    n_frames=patch_frames)  # fmt: skip
    model = build_model(architecture, **model_settings)
    layers = {name for name, _ in model.named_children()}
    if "backbone" in settings.freeze and "backbone" not in layers:  # everything below the classifier
        settings = replace(settings, freeze=sorted(layers - {"classifier"}))
    unknown = set(settings.freeze) - layers
    if unknown:
        raise ParameterError(f"cannot freeze {', '.join(sorted(unknown))}: {architecture}'s layers are "
                             f"{', '.join(sorted(layers))}")  # fmt: skip
    if start is not None:
        _copy_fitting_weights(start, model, source=settings.init)
    fixed = getattr(model, "input_frames", patch_frames)
    if fixed != patch_frames:
        raise ParameterError(f"{architecture} takes {fixed} frames; patch_seconds={settings.patch_seconds} gives "
                             f"{patch_frames} ({seconds_per_frame * 1000:g} ms per frame)")  # fmt: skip
    hop = settings.eval_hop
    hop_frames = patch_frames if hop is None else max(1, round(hop / seconds_per_frame))
    limit = None if settings.region_seconds is None else round(settings.region_seconds / seconds_per_frame)
    return _Plan(architecture, model, model_settings, frontend, patch_frames, hop_frames, limit, list(settings.freeze))


def _copy_fitting_weights(start: torch.nn.Module, target: torch.nn.Module, *, source: str = "") -> None:
    """Copy every parameter and buffer whose name and shape match; say which were left new."""
    theirs = start.state_dict()
    mine = target.state_dict()
    fitting = {k: v for k, v in theirs.items() if k in mine and mine[k].shape == v.shape}
    target.load_state_dict(fitting, strict=False)
    fresh = sorted(set(mine) - set(fitting))
    if fresh:
        report(f"musictag: initialised from {source}; new: {', '.join(fresh)}")


def _export_config(plan: _Plan, name: str, labels: list[str], task: str, info: dict) -> ModelConfig:
    model_settings = plan.model.model_config() if hasattr(plan.model, "model_config") else plan.settings
    return ModelConfig(
        name=name, architecture=plan.architecture, labels=list(labels),
        model={**model_settings, "n_classes": len(labels)}, frontend=plan.frontend.to_dict(),
        activation="softmax" if task == "single-label" else "sigmoid", patch_frames=plan.patch_frames,
        patch_hop=plan.hop_frames * plan.frontend.hop_length / plan.frontend.sample_rate, info=info,
    )  # fmt: skip


def _loggers(settings: NeuralSettings, out: Path) -> list:
    from lightning.pytorch import loggers

    chosen = [loggers.CSVLogger(out, name="logs")]
    makers = {
        "tensorboard": lambda: loggers.TensorBoardLogger(out, name="tensorboard"),
        "wandb": lambda: loggers.WandbLogger(project="musictag", name=out.name, save_dir=str(out)),
        "mlflow": lambda: loggers.MLFlowLogger(experiment_name="musictag", run_name=out.name,
                                               tracking_uri=os.environ.get("MLFLOW_TRACKING_URI",
                                                                           f"file:{out / 'mlruns'}")),
    }  # fmt: skip
    for name in settings.loggers:
        try:
            chosen.append(makers[name]())
        except (ImportError, ModuleNotFoundError) as exc:
            raise ParameterError(f"logger {name!r} needs its package: {exc}") from None
    return chosen


def train_neural(
    dataset: Dataset, settings: NeuralSettings, out: str | os.PathLike, *, train: list[Item],
    valid: list[Item] | None = None, name: str = "model", quiet: bool = False, resume: bool = True,
    partners: list[Item] | None = None,
) -> Path:  # fmt: skip
    """Train on ``train`` crops, select the best epoch on ``valid`` tracks (the last without them),
    and write the model folder ``out/model``. ``out/checkpoints/last.ckpt`` lets a rerun resume.
    With ``partners`` (real target items), training uses siamese pairs and the contrastive loss
    of :mod:`musictag.training.modes` (the ``DA`` mode)."""
    out = Path(out)
    L.seed_everything(settings.seed, workers=True, verbose=False)
    plan = plan_model(settings, dataset.vocabulary)
    cache = FeatureCache(settings.cache, plan.frontend)
    train, train_arrays = cached_features(train, cache, workers=settings.feature_workers, quiet=quiet)
    if not train:
        raise ParameterError(f"{dataset.name}: no readable training items")
    crops = CropSet(train_arrays, dataset.targets(train), frames=plan.patch_frames,
                    crops_per_track=settings.crops_per_track, limit=plan.limit)  # fmt: skip
    task_class = TaggingTask
    if partners:
        from musictag.training.modes import ContrastiveTask, PairSet

        partners, partner_arrays = cached_features(partners, cache, workers=settings.feature_workers, quiet=quiet)
        crops = PairSet(crops, CropSet(partner_arrays, dataset.targets(partners), frames=plan.patch_frames,
                                       limit=plan.limit))  # fmt: skip
        task_class = ContrastiveTask
    loaders = {"train_dataloaders": DataLoader(
        crops, batch_size=settings.batch_size, shuffle=True, drop_last=len(crops) > settings.batch_size,
        num_workers=settings.loader_workers, persistent_workers=settings.loader_workers > 0,
    )}  # fmt: skip
    if valid:
        valid, valid_arrays = cached_features(valid, cache, workers=settings.feature_workers, quiet=quiet)
        tracks = TrackSet(valid_arrays, dataset.targets(valid), frames=plan.patch_frames, hop=plan.hop_frames,
                          limit=plan.limit)  # fmt: skip
        loaders["val_dataloaders"] = DataLoader(tracks, batch_size=4, collate_fn=collate_tracks,
                                                num_workers=settings.loader_workers)  # fmt: skip

    def export(folder: Path, model: torch.nn.Module, info: dict) -> None:
        info = {"data": dataset.name, "train_items": len(train), "valid_items": len(valid or []), **info,
                "settings": asdict(settings)}  # fmt: skip
        config = _export_config(plan, name, dataset.vocabulary, dataset.task, info)
        save_model_folder(folder, config, model.state_dict())

    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    callbacks = [ExportBest(out / "model", export, monitor=bool(valid)),
                 # one rolling checkpoint, rewritten after every epoch, for resuming
                 ModelCheckpoint(out / "checkpoints", filename="last", enable_version_counter=False)]  # fmt: skip
    if valid and settings.patience:
        callbacks.append(EarlyStopping("valid/metric", mode="max", patience=settings.patience))
    task = task_class(
        plan.model, task=dataset.task, labels=dataset.vocabulary, frontend=plan.frontend,
        optimiser={"lr": settings.lr, "backbone_lr": settings.backbone_lr, "weight_decay": settings.weight_decay,
                   "milestones": settings.milestones, "gamma": settings.gamma},
        augmentation=settings.augmentation, label_smoothing=settings.label_smoothing, freeze=plan.freeze,
    )  # fmt: skip
    show = not quiet and sys.stderr.isatty()
    trainer = L.Trainer(
        max_epochs=settings.epochs, accelerator=settings.accelerator, devices=settings.devices,
        num_nodes=settings.num_nodes, strategy=settings.strategy, precision=settings.precision,
        callbacks=callbacks, logger=_loggers(settings, out), default_root_dir=out, num_sanity_val_steps=0,
        enable_progress_bar=show, enable_model_summary=show, log_every_n_steps=1, deterministic="warn",
    )  # fmt: skip
    last = out / "checkpoints" / "last.ckpt"
    with warnings.catch_warnings():
        for noise in (
            "does not have many workers",
            "all_gather is deprecated",
            "no `val_dataloader`",
            "LeafSpec",
            "in eval mode at the start",
            "exists and is not empty",
        ):
            warnings.filterwarnings("ignore", message=f".*{noise}.*")
        try:
            trainer.fit(task, ckpt_path=str(last) if resume and last.exists() else None, **loaders)
        except MisconfigurationException as exc:  # e.g. resuming a run past the epochs now asked for
            hint = "raise neural.epochs or start a new run folder"
            raise ParameterError(f"{last}: cannot resume ({exc}); {hint}") from None
    return out / "model"


def is_trained(run: Path) -> bool:
    """A run folder whose training finished: its model exists and no resume checkpoint is left."""
    return is_model_folder(run / "model") and not (run / "checkpoints" / "last.ckpt").exists()


def cross_validate_neural(
    dataset: Dataset, settings: NeuralSettings, out: str | os.PathLike, *, folds: int = 5, seed: int = 0,
    name: str = "model", quiet: bool = False,
) -> dict:  # fmt: skip
    """Stratified (group-aware) k-fold: train on k-1 folds for the set epochs, score the held-out
    fold's whole tracks with :class:`Tagger`. A fold whose model exists is not trained again."""
    out = Path(out)
    items = [item for item in dataset.items if item.path is not None]
    kfold = stratified_group_kfold if dataset.task == "single-label" else group_kfold
    assignment = np.array(kfold(items, folds, seed=seed))
    per_fold = []
    for fold in range(folds):
        fold_dir = out / f"fold{fold + 1}"
        train = [item for item, f in zip(items, assignment, strict=True) if f != fold]
        test = [item for item, f in zip(items, assignment, strict=True) if f == fold]
        if not is_trained(fold_dir):
            train_neural(dataset, settings, fold_dir, train=train, name=f"{name} fold {fold + 1}", quiet=quiet)
            (fold_dir / "checkpoints" / "last.ckpt").unlink(missing_ok=True)  # the fold is done
        per_fold.append(evaluate_items(Tagger(fold_dir / "model"), dataset, test))
        report(f"musictag: fold {fold + 1}/{folds}: {per_fold[-1].get('accuracy', per_fold[-1].get('roc_auc')):.4f}")
    return cv_result(per_fold, folds=folds, seed=seed, left_out=[i.id for i in dataset.items if i.path is None])
