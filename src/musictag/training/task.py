"""The Lightning modules that train any zoo model (tagging; tagging + contrastive for DA), and the
callback that exports the best one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from musictag.data.dataset import Task
from musictag.evaluation.metrics import headline, task_metrics
from musictag.features.config import FrontendConfig
from musictag.models.config import activation_for
from musictag.models.model_folder import activate
from musictag.training.augment import augment, mixup
from musictag.training.settings import AugmentSettings


class TaggingTask(L.LightningModule):
    """Cross-entropy (single-label, optional label smoothing) or binary cross-entropy (multi-label)
    training on crops; validation scores each whole track by the mean of its patches' scores.

    Parameters
    ----------
    model : nn.Module
        A zoo model (``forward`` gives logits; its output layer is ``classifier``).
    labels : list of str
        The output order.
    freeze : list of str
        Top-level layers of ``model`` to keep fixed (weights and batch-norm statistics), e.g.
        MusiCNN's ``input_bn``, ``timbral``, ``temporal`` front end when fine-tuning.
    optimiser : dict
        ``lr``, ``weight_decay``, ``milestones`` (epochs where the rate is multiplied by
        ``gamma``) and ``backbone_lr`` (a lower rate for everything but the classifier).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        task: Task,
        labels: list[str],
        frontend: FrontendConfig,
        optimiser: dict,
        augmentation: AugmentSettings | None = None,
        label_smoothing: float = 0.0,
        freeze: list[str] = (),
    ):
        super().__init__()
        self.frozen = [module for name, module in model.named_children() if name in set(freeze)]
        for module in self.frozen:
            module.requires_grad_(False)
        self.model, self.task, self.labels, self.frontend = model, task, list(labels), frontend
        self.optimiser = optimiser
        self.augmentation = augmentation or AugmentSettings()
        self.label_smoothing = label_smoothing
        self._valid: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.train()  # Lightning keeps the mode a module arrives in: set it, frozen layers in eval

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def train(self, mode: bool = True) -> TaggingTask:
        super().train(mode)
        for module in self.frozen:  # frozen layers keep their statistics and their fast inference path
            module.eval()
        return self

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        return activate(logits, activation_for(self.task))

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.task == "single-label":  # target: class indices, or soft rows after mixup
            return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
        return F.binary_cross_entropy_with_logits(logits, target.float())

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, target = batch
        x = augment(x, self.augmentation, self.frontend)
        if self.augmentation.mixup:
            soft = F.one_hot(target, len(self.labels)).float() if self.task == "single-label" else target.float()
            x, target = mixup(x, soft, self.augmentation.mixup)
        loss = self.loss(self.model(x), target)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x), sync_dist=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        patches, counts, target = batch
        scores = self.activate(self.model(patches))
        tracks = torch.stack([part.mean(0) for part in scores.split(counts.tolist())])
        self._valid.append((tracks, target))

    def on_validation_epoch_end(self) -> None:
        if not self._valid:
            return
        scores = torch.cat([s for s, _ in self._valid])
        targets = torch.cat([t for _, t in self._valid])
        self._valid.clear()
        if self.trainer.world_size > 1:  # every rank scored its share of the tracks
            scores, targets = self.all_gather(scores).flatten(0, 1), self.all_gather(targets).flatten(0, 1)
        metric = self.score(scores.float().cpu().numpy(), targets.cpu().numpy())
        self.log("valid/metric", metric, prog_bar=True, sync_dist=True)  # equal on every rank after the gather

    def score(self, scores: np.ndarray, targets: np.ndarray) -> float:
        """The headline validation metric: accuracy or macro ROC-AUC."""
        return float(headline(task_metrics(self.task, targets, scores, self.labels))[1])

    def configure_optimizers(self) -> torch.optim.Optimizer | dict:
        settings = self.optimiser
        trainable = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        head = [p for n, p in trainable if "classifier" in n]
        body = [p for n, p in trainable if "classifier" not in n]
        backbone_lr = settings.get("backbone_lr") or settings["lr"]
        groups = [{"params": head, "lr": settings["lr"]}, {"params": body, "lr": backbone_lr}]
        optimiser = torch.optim.Adam([g for g in groups if g["params"]], weight_decay=settings.get("weight_decay", 0))
        milestones = settings.get("milestones") or []
        if not milestones:
            return optimiser
        schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, milestones, gamma=settings.get("gamma", 0.1))
        return {"optimizer": optimiser, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}


DA_MARGIN, DA_WEIGHTS = 2.0, (0.3, 0.7)


def contrastive_loss(anchor: torch.Tensor, partner: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Mean contrastive loss of embedding pairs (rows), ``same`` 1 where the pair shares a genre.

    Embeddings are scaled to unit length first, so the margin of 2 is the sphere's diameter: on raw
    batch-normalised 64-d features, squared same-genre distances start near 2 * 64 and the pull term
    drowns the classification loss, collapsing the embedding (5-fold gtzan_mini fold 1: DA 0.25
    on raw features, 0.50 on unit-length ones).
    """
    anchor, partner = F.normalize(anchor, dim=1), F.normalize(partner, dim=1)
    distance = (anchor - partner).norm(dim=1)
    return (same * distance.pow(2) + (1 - same) * F.relu(DA_MARGIN - distance).pow(2)).mean()


class ContrastiveTask(TaggingTask):
    """:class:`TaggingTask` trained on pairs with the classification + contrastive loss."""

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        xa, ya, xp, yp = batch
        both = self.model.forward_features(torch.cat([xa, xp]))
        logits, embedding = both["logits"][: len(xa)], both["penultimate"]
        contrastive = contrastive_loss(embedding[: len(xa)], embedding[len(xa) :], (ya == yp).float())
        ce = F.cross_entropy(logits, ya, label_smoothing=self.label_smoothing)
        loss = DA_WEIGHTS[0] * ce + DA_WEIGHTS[1] * contrastive
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(xa), sync_dist=True)
        return loss


class ExportBest(L.Callback):
    """Keep ``folder`` holding the best model so far (by ``valid/metric``), or the last one when
    there is no validation data; the folder is written atomically and survives a resume."""

    def __init__(self, folder: Path, export: Callable[[Path, nn.Module, dict], None], *, monitor: bool):
        self.folder, self.export, self.monitor = Path(folder), export, monitor
        self.best: float | None = None

    def on_validation_end(self, trainer: L.Trainer, module: TaggingTask) -> None:
        if trainer.sanity_checking or not self.monitor or "valid/metric" not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics["valid/metric"])
        if self.best is None or value >= self.best:  # on a tie, the longer-trained model
            self.best = value
            if trainer.is_global_zero:
                self.export(self.folder, module.model, {"epochs": trainer.current_epoch + 1, "valid_metric": value})

    def on_train_end(self, trainer: L.Trainer, module: TaggingTask) -> None:
        if (not self.monitor or self.best is None) and trainer.is_global_zero:
            self.export(self.folder, module.model, {"epochs": trainer.current_epoch})  # epochs completed

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = state.get("best")
