"""What every tagger offers (:class:`TaggerBackend`) and what the torch, ONNX and Ray taggers share.

A tagger turns files (or arrays) into :class:`~musictag.inference.results.TagResult` and
:class:`~musictag.inference.results.EmbedResult`, in input order, a broken file giving a
:class:`~musictag.inference.results.FileError` without stopping the rest. Open one with
:func:`musictag.inference.factory.open_tagger`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from musictag.audio.arrays import audio_source
from musictag.errors import MusictagError, ParameterError
from musictag.models.config import LAYERS, ModelConfig

if TYPE_CHECKING:
    import numpy as np

    from musictag.audio.arrays import AudioArray
    from musictag.inference.results import EmbedResult, FileError, TagResult

    Source = str | os.PathLike | AudioArray


@runtime_checkable
class TaggerBackend(Protocol):
    """The interface of every tagger: the model's names and patch geometry, and tagging and embedding
    one input or many."""

    config: ModelConfig
    patch_frames: int  # log-mel frames per patch
    frame_seconds: float  # seconds per frame
    hop_frames: int  # frames between patch starts

    @property
    def name(self) -> str:
        """The model's name."""

    @property
    def labels(self) -> list[str]:
        """The model's labels (tags or classes), in score order."""

    @property
    def sample_rate(self) -> int:
        """The rate the model reads audio at."""

    def tag(self, audio: str | os.PathLike | np.ndarray, *, sample_rate: int | None = None) -> TagResult:
        """Tag one file, or an array of samples at ``sample_rate``."""

    def embed(
        self, audio: str | os.PathLike | np.ndarray, *, layer: str = "penultimate", sample_rate: int | None = None
    ) -> EmbedResult:
        """One layer's activations for one file or array."""

    def tag_many(
        self, paths: Iterable[Source], *, embed: str | None = None, workers: int = 0
    ) -> Iterator[TagResult | FileError]:
        """Tag many files in order; a file that fails yields a :class:`FileError`."""

    def embed_many(
        self, paths: Iterable[Source], *, layer: str = "penultimate", workers: int = 0
    ) -> Iterator[EmbedResult | FileError]:
        """One layer's activations for many files in order; a failure yields a :class:`FileError`."""


class PatchGeometry:
    """A model's names and patch geometry from its ``config`` and a hop in seconds (default: the model's
    own ``patch_hop``, else one patch: no overlap, as musicnn)."""

    config: ModelConfig

    def _set_geometry(self, config: ModelConfig, hop: float | None) -> None:
        if hop is not None and not 0 < hop < math.inf:  # also refuses nan
            raise ParameterError(f"hop must be a positive number of seconds, got {hop}")
        self.config = config
        frontend = config.frontend_config()
        self.patch_frames = config.patch_frames
        self.frame_seconds = frontend.hop_length / frontend.sample_rate
        hop = config.patch_hop if hop is None else hop
        self.hop_frames = self.patch_frames if hop is None else max(1, round(hop / self.frame_seconds))

    @property
    def name(self) -> str:
        """The model's name."""
        return self.config.name

    @property
    def labels(self) -> list[str]:
        """The model's labels (tags or classes), in score order."""
        return list(self.config.labels)

    @property
    def sample_rate(self) -> int:
        """The rate the model reads audio at."""
        return self.config.frontend_config().sample_rate


class ConfiguredTagger(PatchGeometry):
    """The part every backend shares besides the geometry: one-input ``tag``/``embed`` on top of
    ``tag_many``/``embed_many``, and the check of a layer's name."""

    def tag(self, audio: str | os.PathLike | np.ndarray, *, sample_rate: int | None = None) -> TagResult:
        """Tag one file, or an array of samples at ``sample_rate``; raises :class:`MusictagError` if it
        cannot be read."""
        return _raise_if_error(next(self.tag_many([audio_source(audio, sample_rate)])))

    def embed(
        self, audio: str | os.PathLike | np.ndarray, *, layer: str = "penultimate", sample_rate: int | None = None
    ) -> EmbedResult:
        """One layer's activations for one file or array (``per_patch`` and their mean ``embedding``)."""
        return _raise_if_error(next(self.embed_many([audio_source(audio, sample_rate)], layer=layer)))

    def _layers(self) -> set[str]:
        """The layers this model can return besides ``taggram``."""
        raise NotImplementedError

    def _check_layer(self, layer: str) -> None:
        if layer not in LAYERS:
            raise ParameterError(f"unknown layer {layer!r}; choose from {', '.join(LAYERS)}")
        available = self._layers() | {"taggram"}
        if layer not in available:
            raise ParameterError(f"model {self.name} has no layer {layer!r}; it has {', '.join(sorted(available))}")


def _raise_if_error(result):
    from musictag.inference.results import FileError

    if isinstance(result, FileError):
        raise MusictagError(result.error)
    return result
