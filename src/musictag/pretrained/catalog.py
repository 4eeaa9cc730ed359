"""The pretrained taggers musictag can load: musicnn's four published checkpoints."""

from __future__ import annotations

from dataclasses import dataclass

MTT_LABELS = (
    "guitar",
    "classical",
    "slow",
    "techno",
    "strings",
    "drums",
    "electronic",
    "rock",
    "fast",
    "piano",
    "ambient",
    "beat",
    "violin",
    "vocal",
    "synth",
    "female",
    "indian",
    "opera",
    "male",
    "singing",
    "vocals",
    "no vocals",
    "harpsichord",
    "loud",
    "quiet",
    "flute",
    "woman",
    "male vocal",
    "no vocal",
    "pop",
    "soft",
    "sitar",
    "solo",
    "man",
    "classic",
    "choir",
    "voice",
    "new age",
    "dance",
    "male voice",
    "female vocal",
    "beats",
    "harp",
    "cello",
    "no voice",
    "weird",
    "country",
    "metal",
    "female voice",
    "choral",
)

MSD_LABELS = (
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "female vocalists",
    "dance",
    "00s",
    "alternative rock",
    "jazz",
    "beautiful",
    "metal",
    "chillout",
    "male vocalists",
    "classic rock",
    "soul",
    "indie rock",
    "Mellow",
    "electronica",
    "80s",
    "folk",
    "90s",
    "chill",
    "instrumental",
    "punk",
    "oldies",
    "blues",
    "hard rock",
    "ambient",
    "acoustic",
    "experimental",
    "female vocalist",
    "guitar",
    "Hip-Hop",
    "70s",
    "party",
    "country",
    "easy listening",
    "sexy",
    "catchy",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "60s",
    "rnb",
    "indie pop",
    "sad",
    "House",
    "happy",
)


@dataclass(frozen=True)
class PretrainedSpec:
    """One published checkpoint and how to build the model it belongs to."""

    name: str  # musictag's name, e.g. "mtt-musicnn"
    checkpoint: str  # folder inside the musicnn wheel, e.g. "MTT_musicnn"
    architecture: str  # "musicnn" or "vgg"
    dataset: str
    labels: tuple[str, ...]


PRETRAINED = {
    spec.name: spec
    for spec in (
        PretrainedSpec("mtt-musicnn", "MTT_musicnn", "musicnn", "MagnaTagATune", MTT_LABELS),
        PretrainedSpec("msd-musicnn", "MSD_musicnn", "musicnn", "Million Song Dataset", MSD_LABELS),
        PretrainedSpec("mtt-vgg", "MTT_vgg", "vgg", "MagnaTagATune", MTT_LABELS),
        PretrainedSpec("msd-vgg", "MSD_vgg", "vgg", "Million Song Dataset", MSD_LABELS),
    )
}

#: The wheel that carries the checkpoints (ISC licence), pinned by hash.
WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"
WHEEL_REQUIREMENT = "musicnn==0.1.0"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"


def parse_experiment_result(text: str) -> dict[str, float]:
    """Read the published ROC-AUC and PR-AUC from a checkpoint's ``experiment.result``.

    Two layouts exist: ``ROC-AUC: x`` / ``PR-AUC: y`` lines, or two ``AUC: x`` lines
    (ROC first, then PR).
    """
    values: dict[str, float] = {}
    plain_auc = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().upper()
        try:
            number = float(value)
        except ValueError:
            continue
        if key == "ROC-AUC":
            values["roc_auc"] = number
        elif key == "PR-AUC":
            values["pr_auc"] = number
        elif key == "AUC":
            plain_auc.append(number)
    for key, number in zip(("roc_auc", "pr_auc"), plain_auc, strict=False):
        values.setdefault(key, number)
    return values
