"""Train zoo models with Lightning on cached log-mel features: one split, or k-fold cross-validation."""

from __future__ import annotations

import inspect
import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import lightning as L
import torch

from musictag.data.dataset import Dataset, Item
from musictag.data.splits import kfold_pairs
from musictag.errors import ParameterError
from musictag.evaluation.metrics import headline
from musictag.evaluation.scoring import Excerpts, evaluate_items
from musictag.features.cache import FeatureCache
from musictag.features.config import FrontendConfig
from musictag.features.presets import frontend_from
from musictag.inference.tagger import Tagger
from musictag.models.config import ModelConfig, activation_for
from musictag.models.model_folder import is_model_folder, load_model_folder, save_model_folder
from musictag.models.zoo import ARCHITECTURES, build_model
from musictag.pretrained.store import resolve_model
from musictag.training.crossval import cv_result
from musictag.training.datasets import training_loaders
from musictag.training.settings import NeuralSettings
from musictag.training.task import ContrastiveTask, ExportBest, TaggingTask
from musictag.utils.progress import report

for _name in ("lightning.pytorch", "lightning.fabric"):  # hardware banners and tips: not for our users
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass
class TrainingPlan:
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


def plan_model(settings: NeuralSettings, labels: list[str]) -> TrainingPlan:
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
    model_settings = _with_defaults(
        cls, model_settings, n_classes=len(labels), n_mels=frontend.n_mels, n_frames=patch_frames
    )
    model = build_model(architecture, **model_settings)
    layers = {name for name, _ in model.named_children()}
    if "backbone" in settings.freeze and "backbone" not in layers:  # everything below the classifier
        settings = replace(settings, freeze=sorted(layers - {"classifier"}))
    unknown = set(settings.freeze) - layers
    if unknown:
        raise ParameterError(
            f"cannot freeze {', '.join(sorted(unknown))}: {architecture}'s layers are {', '.join(sorted(layers))}"
        )
    if start is not None:
        _copy_fitting_weights(start, model, source=settings.init)
    fixed = getattr(model, "input_frames", patch_frames)
    if fixed != patch_frames:
        raise ParameterError(
            f"{architecture} takes {fixed} frames; patch_seconds={settings.patch_seconds} gives "
            f"{patch_frames} ({seconds_per_frame * 1000:g} ms per frame)"
        )
    hop = settings.eval_hop
    hop_frames = patch_frames if hop is None else max(1, round(hop / seconds_per_frame))
    limit = None if settings.region_seconds is None else round(settings.region_seconds / seconds_per_frame)
    return TrainingPlan(
        architecture, model, model_settings, frontend, patch_frames, hop_frames, limit, list(settings.freeze)
    )


def _copy_fitting_weights(start: torch.nn.Module, target: torch.nn.Module, *, source: str = "") -> None:
    """Copy every parameter and buffer whose name and shape match; say which were left new."""
    theirs = start.state_dict()
    mine = target.state_dict()
    fitting = {k: v for k, v in theirs.items() if k in mine and mine[k].shape == v.shape}
    target.load_state_dict(fitting, strict=False)
    fresh = sorted(set(mine) - set(fitting))
    if fresh:
        report(f"musictag: initialised from {source}; new: {', '.join(fresh)}")


def _export_config(plan: TrainingPlan, name: str, labels: list[str], task: str, info: dict) -> ModelConfig:
    model_settings = plan.model.model_config() if hasattr(plan.model, "model_config") else plan.settings
    return ModelConfig(
        name=name,
        architecture=plan.architecture,
        labels=list(labels),
        model={**model_settings, "n_classes": len(labels)},
        frontend=plan.frontend.to_dict(),
        activation=activation_for(task),
        patch_frames=plan.patch_frames,
        patch_hop=plan.hop_frames * plan.frontend.hop_length / plan.frontend.sample_rate,
        info=info,
    )


def _loggers(settings: NeuralSettings, out: Path) -> list:
    from lightning.pytorch import loggers

    chosen = [loggers.CSVLogger(out, name="logs")]
    makers = {
        "tensorboard": lambda: loggers.TensorBoardLogger(out, name="tensorboard"),
        "wandb": lambda: loggers.WandbLogger(project="musictag", name=out.name, save_dir=str(out)),
        "mlflow": lambda: loggers.MLFlowLogger(
            experiment_name="musictag",
            run_name=out.name,
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", f"file:{out / 'mlruns'}"),
        ),
    }
    for name in settings.loggers:
        try:
            chosen.append(makers[name]())
        except (ImportError, ModuleNotFoundError) as exc:
            raise ParameterError(f"logger {name!r} needs its package: {exc}") from None
    return chosen


def train_neural(
    dataset: Dataset,
    settings: NeuralSettings,
    out: str | os.PathLike,
    *,
    train: list[Item],
    valid: list[Item] | None = None,
    name: str = "model",
    quiet: bool = False,
    resume: bool = True,
    partners: list[Item] | None = None,
) -> Path:
    """Train on ``train`` crops, select the best epoch on ``valid`` tracks (the last without them),
    and write the model folder ``out/model``. ``out/checkpoints/last.ckpt`` lets a rerun resume.
    With ``partners`` (real target items), training uses siamese pairs and the contrastive loss
    of :class:`~musictag.training.task.ContrastiveTask` (the ``DA`` mode)."""
    from musictag.data.load import reference_items

    out = Path(out)
    # a reference without audio fails now, not after the training it would follow
    reference = reference_items(settings.reference, "neural.reference") if settings.reference else None
    L.seed_everything(settings.seed, workers=True, verbose=False)
    plan = plan_model(settings, dataset.vocabulary)
    cache = FeatureCache(settings.cache, plan.frontend)
    loaders, train, valid = training_loaders(
        dataset,
        cache,
        settings,
        frames=plan.patch_frames,
        hop=plan.hop_frames,
        limit=plan.limit,
        train=train,
        valid=valid,
        partners=partners,
        quiet=quiet,
    )
    task_class = ContrastiveTask if partners else TaggingTask

    def export(folder: Path, model: torch.nn.Module, info: dict) -> None:
        info = {
            "data": dataset.name,
            "train_items": len(train),
            "valid_items": len(valid or []),
            **info,
            "fit": dict(info),
            "trained_on": {
                "data": dataset.name,
                "items": len(train) + len(valid or []),
                "ids": [item.id for item in [*train, *(valid or [])]],
            },
            "settings": asdict(settings),
        }
        config = _export_config(plan, name, dataset.vocabulary, dataset.task, info)
        save_model_folder(folder, config, model.state_dict())

    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    callbacks = [
        ExportBest(out / "model", export, monitor=bool(valid)),
        # one rolling checkpoint, rewritten after every epoch, for resuming
        ModelCheckpoint(out / "checkpoints", filename="last", enable_version_counter=False),
    ]
    if valid and settings.patience:
        callbacks.append(EarlyStopping("valid/metric", mode="max", patience=settings.patience))
    task = task_class(
        plan.model,
        task=dataset.task,
        labels=dataset.vocabulary,
        frontend=plan.frontend,
        optimiser={
            "lr": settings.lr,
            "backbone_lr": settings.backbone_lr,
            "weight_decay": settings.weight_decay,
            "milestones": settings.milestones,
            "gamma": settings.gamma,
        },
        augmentation=settings.augmentation,
        label_smoothing=settings.label_smoothing,
        freeze=plan.freeze,
    )
    show = not quiet and sys.stderr.isatty()
    trainer = L.Trainer(
        max_epochs=settings.epochs,
        accelerator=settings.accelerator,
        devices=settings.devices,
        num_nodes=settings.num_nodes,
        strategy=settings.strategy,
        precision=settings.precision,
        callbacks=callbacks,
        logger=_loggers(settings, out),
        default_root_dir=out,
        num_sanity_val_steps=0,
        enable_progress_bar=show,
        enable_model_summary=show,
        log_every_n_steps=1,
        deterministic="warn",
    )
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
    if reference and trainer.is_global_zero:
        from musictag.training.adapt import adapt_model_folder

        adapt_model_folder(out / "model", reference, quiet=quiet)
    return out / "model"


def is_trained(run: Path) -> bool:
    """A run folder whose training finished: its model exists and no resume checkpoint is left."""
    return is_model_folder(run / "model") and not (run / "checkpoints" / "last.ckpt").exists()


def train_once(run: str | os.PathLike, train: Callable[[], Path]) -> Path:
    """``run``'s model folder: trained by ``train()`` unless a finished one is there, after which the
    resume checkpoint goes (it marks an unfinished run; a finished run is not trained again)."""
    run = Path(run)
    if not is_trained(run):
        train()
        (run / "checkpoints" / "last.ckpt").unlink(missing_ok=True)
    return run / "model"


def cross_validate_neural(
    dataset: Dataset,
    settings: NeuralSettings,
    out: str | os.PathLike,
    *,
    folds: int = 5,
    seed: int = 0,
    name: str = "model",
    quiet: bool = False,
    excerpts: Excerpts | None = None,
) -> dict:
    """Stratified (group-aware) k-fold: train on k-1 folds for the set epochs, score the held-out
    fold's whole tracks with :class:`Tagger`. A fold whose model exists is not trained again."""
    out = Path(out)
    items = [item for item in dataset.items if item.path is not None]
    per_fold = []
    for fold, (train, test) in enumerate(kfold_pairs(items, folds, task=dataset.task, seed=seed)):
        fold_dir = out / f"fold{fold + 1}"
        model = train_once(
            fold_dir,
            partial(
                train_neural, dataset, settings, fold_dir, train=train, name=f"{name} fold {fold + 1}", quiet=quiet
            ),
        )
        per_fold.append(evaluate_items(Tagger(model), dataset, test, excerpts=excerpts))
        metric, value = headline(per_fold[-1])
        report(f"musictag: fold {fold + 1}/{folds}: {metric} {value:.4f}")
    return cv_result(per_fold, folds=folds, seed=seed, left_out=[i.id for i in dataset.items if i.path is None])
