"""The settings of the log-mel front end, and musicnn's (no numpy or torch: the command line reads them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from musictag.errors import ParameterError

Compression = Literal["log10_1p", "db", "log", "none"]


@dataclass(frozen=True)
class FrontendConfig:
    """Every setting of the log-mel front end.

    ``compression`` is one of ``"log10_1p"`` (musicnn: ``log10(1 + multiplier * x)``),
    ``"db"`` (``10 * log10(max(x, amin))``, librosa's ``power_to_db`` with ref 1),
    ``"log"`` (``log(x + eps)``) or ``"none"``. ``float16_quirk`` reproduces the
    original musicnn pipeline, which casts the mel power to float16 before the log.
    """

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    win_length: int | None = None
    n_mels: int = 96
    f_min: float = 0.0
    f_max: float | None = None
    mel_scale: Literal["slaney", "htk"] = "slaney"
    mel_norm: Literal["slaney"] | None = "slaney"
    power: float = 2.0
    center: bool = True
    compression: Compression = "log10_1p"
    multiplier: float = 10000.0
    eps: float = 1e-6
    amin: float = 1e-10
    float16_quirk: bool = False

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.n_fft <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ParameterError("sample_rate, n_fft, hop_length and n_mels must be positive")
        if (self.win_length or self.n_fft) > self.n_fft:
            raise ParameterError(f"win_length ({self.win_length}) must not exceed n_fft ({self.n_fft})")
        if self.mel_scale not in ("slaney", "htk"):
            raise ParameterError(f"mel_scale must be 'slaney' or 'htk', got {self.mel_scale!r}")
        if self.compression not in ("log10_1p", "db", "log", "none"):
            raise ParameterError(f"unknown compression {self.compression!r}")
        f_max = self.f_max if self.f_max is not None else self.sample_rate / 2
        if not 0 <= self.f_min < f_max <= self.sample_rate / 2:
            raise ParameterError(f"need 0 <= f_min < f_max <= sample_rate/2, got {self.f_min}, {f_max}")

    def to_dict(self) -> dict:
        """The config as plain values (what model folders and cache keys store)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> FrontendConfig:
        """A config from plain values; an unknown key is a :class:`ParameterError`."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ParameterError(f"unknown front-end settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def with_(self, **changes) -> FrontendConfig:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


#: The front end of the original musicnn models (16 kHz, 512/256, 96 mels, float16 quirk).
MUSICNN = FrontendConfig(float16_quirk=True)
