"""A model held in memory with what it reads: the network (or a classical pipeline), its config, its
log-mel front end and patch geometry, and the cutting of a file into the patches it sees.

Explanations and concept vectors need exactly this (``module``, ``config``, ``file_patches``); the
:class:`~musictag.inference.tagger.Tagger` adds the batching runner on top (files in order, patches of
consecutive files sharing forward passes, worker processes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from musictag.audio.arrays import AudioArray, resampled
from musictag.audio.stream import AudioStream
from musictag.errors import MusictagError, ParameterError, failure_line
from musictag.features.blockwise import stream_logmel
from musictag.features.mel import LogMel
from musictag.features.patches import iter_patches
from musictag.inference.base import PatchGeometry
from musictag.inference.checks import file_warnings
from musictag.models.classical import ClassicalModel
from musictag.models.config import ModelConfig
from musictag.models.model_folder import load_model_folder
from musictag.pretrained.store import resolve_model


class LoadedModel(PatchGeometry):
    """A model in memory on ``device``, reading patches every ``hop`` seconds (default: its own).

    Parameters
    ----------
    module : torch.nn.Module or ClassicalModel
        The network (``forward_features`` gives every named layer) or a classical pipeline.
    config : ModelConfig
        Its labels, front end and patch length.
    hop : float, optional
        Seconds between patch starts.
    device : str
        A torch device that exists here.
    folder : path, optional
        Where its files are (None for a model built in memory).
    """

    def __init__(
        self,
        module: torch.nn.Module | ClassicalModel,
        config: ModelConfig,
        *,
        hop: float | None = None,
        device: str = "cpu",
        folder: Path | None = None,
    ):
        self._set_geometry(config, hop)
        self.module, self.folder, self.hop = module, folder, hop
        self.device = torch_device(device)
        self.classical = module if isinstance(module, ClassicalModel) else None
        if self.classical is None:
            self.module.to(self.device).eval()
        self.frontend = LogMel(self.config.frontend_config())
        self.patcher = Patcher(self.frontend, self.patch_frames, self.hop_frames)

    @classmethod
    def open(
        cls,
        model: str | os.PathLike = "mtt-musicnn",
        *,
        weights: str | os.PathLike | None = None,
        hop: float | None = None,
        device: str = "cpu",
    ) -> LoadedModel:
        """A pretrained model by name, or a model folder, loaded."""
        folder = resolve_model(model, weights=weights)
        return cls(*load_model_folder(folder), hop=hop, device=device, folder=folder)

    def with_hop(self, hop: float | None) -> LoadedModel:
        """The same model (shared, not copied) reading patches every ``hop`` seconds."""
        return LoadedModel(self.module, self.config, hop=hop, device=str(self.device), folder=self.folder)

    @property
    def sample_rate(self) -> int:
        """The rate the model reads audio at (its front end's, or a classical model's descriptors')."""
        return self.classical.sample_rate if self.classical is not None else self.frontend.config.sample_rate

    def file_patches(self, audio: str | os.PathLike) -> tuple[torch.Tensor, float]:
        """A file's log-mel patches ``(n, patch_frames, n_mels)`` as the model sees them, and its duration."""
        state = self.patcher.whole_file(str(audio))
        if state.error:
            raise MusictagError(state.error)
        return torch.from_numpy(state.outputs[0]["patches"]), state.duration


class FileState:
    """One file on its way through a model: its source, the outputs so far, duration, peak, error, warnings."""

    def __init__(self, source: str | AudioArray):
        self.source = source
        self.path = source.name if isinstance(source, AudioArray) else source
        self.outputs: list[dict[str, np.ndarray]] = []
        self.pending = 0  # patches cut but not yet through the model
        self.duration = 0.0
        self.peak = 0.0
        self.error: str | None = None
        self.warnings: list[str] = []


class Patcher:
    """Decodes a file into log-mel patches and says what makes its scores less trustworthy.

    Picklable (a front-end config and two numbers), so worker processes can cut patches for
    the model in the parent process (``tag_many(..., workers=N)``).
    """

    def __init__(self, frontend: LogMel, patch_frames: int, hop_frames: int):
        self.frontend, self.patch_frames, self.hop_frames = frontend, patch_frames, hop_frames
        self.frame_seconds = frontend.config.hop_length / frontend.config.sample_rate

    def __getstate__(self) -> dict:
        return {"config": self.frontend.config, "patch_frames": self.patch_frames, "hop_frames": self.hop_frames}

    def __setstate__(self, state: dict) -> None:
        self.__init__(LogMel(state["config"]), state["patch_frames"], state["hop_frames"])

    def patches(self, state: FileState) -> Iterator[torch.Tensor]:
        """The file's patches, streamed; ``state`` gets its duration, peak and warnings."""
        rate = self.frontend.config.sample_rate
        if isinstance(state.source, AudioArray):
            blocks = [resampled(state.source, rate)]
            state.duration = len(state.source.samples) / state.source.sample_rate
        else:
            blocks = AudioStream(state.source, rate)
        frames = (f.numpy() for f in stream_logmel(self.frontend, measured_blocks(blocks, state)))
        for patches in iter_patches(frames, length=self.patch_frames, hop=self.hop_frames):
            yield torch.from_numpy(patches)
        if not isinstance(state.source, AudioArray):
            state.duration = blocks.duration
        state.warnings += self.warnings(state)

    def warnings(self, state: FileState, *, patches: bool = True) -> list[str]:
        """What makes the file's scores less trustworthy (silence, shorter than a patch or the hop)."""
        return file_warnings(
            state.path,
            duration=state.duration,
            peak=state.peak,
            patches=patches,
            patch_seconds=self.patch_frames * self.frame_seconds,
            hop_seconds=self.hop_frames * self.frame_seconds,
        )

    def whole_file(self, source: str | AudioArray) -> FileState:
        """All of a file's patches at once: the state carries them (``outputs[0]["patches"]``), or the error."""
        state = FileState(source)
        try:
            state.outputs = [{"patches": torch.cat(list(self.patches(state))).numpy()}]
        except Exception as exc:  # a broken file must not stop the batch
            state.error = failure_line(state.path, exc)
        return state


def torch_device(name: str) -> torch.device:
    """A torch device that exists here, or a one-line error."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ParameterError(f"unknown device {name!r}: use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device {name!r}: this machine (or this torch build) has no CUDA; use cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ParameterError(f"device {name!r}: MPS is not available here; use cpu")
    return device


def measured_blocks(blocks: Iterable[np.ndarray], state: FileState) -> Iterator[np.ndarray]:
    """Pass blocks through, keeping the file's peak level."""
    for block in blocks:
        if len(block):
            state.peak = max(state.peak, float(np.abs(block).max()))
        yield block
