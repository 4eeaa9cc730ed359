"""The settings of each kind of training, as recipes write them: plain dataclasses, no torch.

A recipe's ``neural:``, ``transfer:`` or ``classical:`` section becomes one of these (see
:mod:`musictag.training.recipe`); unknown keys are refused there, by name.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field, fields
from typing import TypeVar

from musictag.errors import ParameterError

T = TypeVar("T")

LOGGERS = ("tensorboard", "wandb", "mlflow")


def _descriptor_groups() -> list[str]:
    from musictag.features.handcrafted import GROUPS  # numpy and scipy: only when a classical recipe is read

    return list(GROUPS)


@dataclass
class AugmentSettings:
    """What to apply to each training crop (every field off by default).

    ``gain_db``: random gain in ``[-gain_db, gain_db]`` dB. ``eq_db``: a random equaliser, a
    spectral tilt plus one bell, each up to ``eq_db`` dB (recording chains and mixes differ
    from one source to the next). ``noise_snr_db``: ``[low, high]``
    signal-to-noise ratio range of added noise, applied with probability ``noise_prob``.
    ``shift``: roll by up to this fraction of the crop. ``time_masks`` x ``time_mask``
    frames and ``freq_masks`` x ``freq_mask`` bands (SpecAugment, widths up to the given size).
    ``mixup``: Beta(alpha, alpha) mixing of example pairs (0 = off). ``short_crops``: the share
    of crops cut to a random length between ``short_crop_min`` of the crop and all of it, then
    repeated to fill it, as the tagger pads a clip shorter than one patch.
    """

    gain_db: float = 0.0
    eq_db: float = 0.0
    noise_snr_db: list[float] | None = None
    noise_prob: float = 0.5
    shift: float = 0.0
    time_masks: int = 0
    time_mask: int = 0
    freq_masks: int = 0
    freq_mask: int = 0
    mixup: float = 0.0
    short_crops: float = 0.0
    short_crop_min: float = 0.33

    @property
    def active(self) -> bool:
        """Whether any augmentation is switched on."""
        return bool(
            self.gain_db
            or self.eq_db
            or self.noise_snr_db
            or self.shift
            or self.time_masks
            or self.freq_masks
            or self.short_crops
        )


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
    ``reference``: real audio (a SPEC; labels unused) over which the trained network's batch-norm
    statistics are re-estimated (:mod:`musictag.training.adapt`): for a network trained on synthetic
    clips that will meet real music.
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
    reference: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.target) - set(self.__dataclass_fields__) | ({"target"} & set(self.target))
        if unknown:
            raise ParameterError(f"unknown neural.target settings: {', '.join(sorted(unknown))}")
        from musictag.models.zoo import ARCHITECTURES  # torch: only when a neural recipe is read

        if self.init is None and self.architecture not in ARCHITECTURES:
            raise ParameterError(f"neural.architecture must be one of {', '.join(ARCHITECTURES)} (or give neural.init)")
        unknown = set(self.loggers) - set(LOGGERS)
        if unknown:
            raise ParameterError(f"unknown loggers {', '.join(sorted(unknown))}; choose from {', '.join(LOGGERS)}")
        self.augmentation = from_section(AugmentSettings, self.augment, "neural.augment")


@dataclass
class TransferSettings:
    """A head on frozen pretrained embeddings (see :mod:`musictag.training.fit_head`).

    ``backbones``: pretrained musicnn models (MusiCNN or VGG) or model folders whose chosen
    ``layers`` are concatenated (a VGG has only ``penultimate``). ``backbone_sets``: candidate
    subsets of them, chosen by the inner cross-validation (default: all of them together).
    ``samples``: ``patches`` trains on every patch (every ``hop`` seconds) and on ``crops``
    short random crops per track, ``crop_seconds`` long, as new clips will be; ``tracks`` on each
    track's mean embedding. ``perturbed_crops`` (with ``patches``): that many more crops per track,
    each played up to 10 % faster or slower, through a random spectral tilt and gain
    (:mod:`musictag.training.perturb`), as other recordings of such music may sound. ``heads``:
    ``logreg`` (strength from ``Cs``) and/or ``mlp`` (``hidden`` widths, weight decay from
    ``alphas``), the inner CV picking the best on held-out tracks' crops.
    ``ensemble``: MLPs fitted with as many seeds and averaged (stored as one wider MLP).
    ``extra``: more training data, never tested on, each SPEC with the weight of its rows against the
    real data's 1 (e.g. ``{synth/manifest.csv: 0.3}``: synthetic clips; their patches only, no crops;
    ``{"synth:100": 0.3}``: 100 procedural clips per genre, rendered once into the cache).
    ``reference``: real audio (a SPEC; labels unused) whose features' mean and spread standardise what
    the model meets, in place of the training rows': for a head trained on synthetic clips, whose
    features sit elsewhere than real music's (feature-level domain adaptation, as AdaBN does for
    batch norm). ``pseudo_labels`` (single-label, with a reference): self-training on the reference's
    tracks. The fitted head labels them; class by class, the ones it is surest of (at most the share
    ``pseudo_labels`` of the tracks per class, as if the classes were even) join the training rows
    with those labels, weighing ``pseudo_weight`` of the training rows all together, and the head is
    fitted again; twice (class-balanced self-training, Zou et al., ECCV 2018).
    """

    backbones: list[str] = field(default_factory=lambda: ["msd-musicnn"])
    backbone_sets: list[list[str]] | None = None
    layers: list[str] = field(default_factory=lambda: ["penultimate", "max_pool"])
    hop: float = 1.5  # seconds between patches (overlap gives more views of each track)
    samples: str = "patches"
    crops: int = 8
    crop_seconds: list[float] = field(default_factory=lambda: [1.0, 3.0])
    perturbed_crops: int = 0
    heads: list[str] = field(default_factory=lambda: ["logreg"])
    Cs: list[float] = field(default_factory=lambda: [0.01, 0.03, 0.1, 0.3, 1.0])
    hidden: list[int] = field(default_factory=lambda: [256])
    alphas: list[float] = field(default_factory=lambda: [0.1, 1.0])
    ensemble: int = 1
    inner_folds: int = 5
    seed: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    reference: str | None = None
    pseudo_labels: float = 0.0
    pseudo_weight: float = 0.3

    def __post_init__(self) -> None:
        if not isinstance(self.pseudo_labels, (int, float)) or not 0 <= self.pseudo_labels <= 1:
            raise ParameterError(f"transfer.pseudo_labels must be a share from 0 to 1, got {self.pseudo_labels!r}")
        if not isinstance(self.pseudo_weight, (int, float)) or not self.pseudo_weight > 0:
            raise ParameterError(f"transfer.pseudo_weight must be a positive number, got {self.pseudo_weight!r}")
        for spec, weight in self.extra.items():
            if not isinstance(weight, (int, float)) or not weight > 0:
                raise ParameterError(f"transfer.extra: {spec}'s weight must be a positive number, got {weight!r}")
        if "mlp" in self.heads and not self.hidden:
            raise ParameterError("transfer.hidden must name at least one layer width for the mlp head")
        if self.ensemble < 1:
            raise ParameterError(f"transfer.ensemble must be at least 1, got {self.ensemble}")
        if self.samples not in ("patches", "tracks"):
            raise ParameterError(f"transfer.samples must be patches or tracks, got {self.samples!r}")
        unknown = set(self.heads) - {"logreg", "mlp"}
        if unknown or not self.heads:
            raise ParameterError(f"transfer.heads must be logreg and/or mlp, got {self.heads}")
        if self.samples == "tracks" and "mlp" in self.heads:  # a track scores by its patches' mean logits, which
            raise ParameterError("transfer.heads: mlp needs samples: patches")  # equals a fit on means only if linear
        if not isinstance(self.perturbed_crops, int) or self.perturbed_crops < 0:
            raise ParameterError(f"transfer.perturbed_crops must be a number of crops, got {self.perturbed_crops!r}")
        if len(self.crop_seconds) != 2 or not 0 < self.crop_seconds[0] <= self.crop_seconds[1]:
            raise ParameterError(f"transfer.crop_seconds must be [shortest, longest], got {self.crop_seconds}")
        for chosen in self.backbone_sets or []:
            if not chosen or set(chosen) - set(self.backbones):
                raise ParameterError(f"transfer.backbone_sets must be non-empty subsets of backbones, got {chosen}")


@dataclass
class ClassicalSettings:
    """Settings of the classical kind: descriptors and a scikit-learn classifier."""

    classifier: str = "svm"  # svm or logreg
    features: list[str] = field(default_factory=_descriptor_groups)  # audioconcept's SVM_FEATURES_FILTER
    Cs: list[float] = field(default_factory=lambda: [0.1, 1.0, 10.0, 100.0])
    gammas: list = field(default_factory=lambda: ["scale", 0.01, 0.001])
    inner_folds: int = 5
    sample_rate: int = 22050


def _accepts(value: object, annotation: str) -> bool:
    """Whether a value read from YAML fits a field's annotation (ints pass for floats)."""
    hint = eval(annotation, {**vars(typing), "list": list, "dict": dict})  # noqa: S307 - our own annotations
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    for option in options:
        origin = typing.get_origin(option) or option
        if option is type(None):
            fits = value is None
        elif origin is float:
            fits = number
        elif origin is int:
            fits = number and isinstance(value, int)
        else:
            fits = isinstance(value, origin)
        if fits:
            return True
    return False


def from_section(cls: type[T], values: dict | None, section: str) -> T:
    """``cls(**values)``, refusing unknown keys and ill-typed values with the key's full name."""
    values = values or {}
    if not isinstance(values, dict):
        raise ParameterError(f"{section} must be a mapping of settings, got {values!r}")
    known = {f.name: f for f in fields(cls) if f.init}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParameterError(f"unknown {section} settings: {', '.join(unknown)} (known: {', '.join(known)})")
    for key, value in values.items():
        if not _accepts(value, known[key].type):
            raise ParameterError(f"{section}.{key}: expected {known[key].type}, got {value!r}")
    return cls(**values)
