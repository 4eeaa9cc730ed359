"""Tag and embed audio files with a pretrained or trained model."""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import torch

from musictag.audio.arrays import AudioArray, resampled
from musictag.audio.stream import AudioStream
from musictag.errors import MusictagError, ParameterError, failure_line
from musictag.features.blockwise import stream_logmel
from musictag.features.mel import LogMel
from musictag.features.patches import iter_patches
from musictag.inference.base import ConfiguredTagger
from musictag.inference.checks import file_warnings
from musictag.inference.results import EmbedResult, FileError, TagResult
from musictag.models.classical import ClassicalModel
from musictag.models.config import ModelConfig
from musictag.models.model_folder import activate, load_model_folder
from musictag.pretrained.store import resolve_model

#: The most patches one forward pass takes, whatever ``batch_size`` asks: a musicnn patch costs
#: about 14 MB of activations on the CPU, and batches past a few dozen patches are no faster.
MAX_BATCH = 64


class _FileState:
    def __init__(self, source: str | AudioArray):
        self.source = source
        self.path = source.name if isinstance(source, AudioArray) else source
        self.outputs: list[dict[str, np.ndarray]] = []
        self.pending = 0  # patches cut but not yet through the model
        self.duration = 0.0
        self.peak = 0.0
        self.error: str | None = None
        self.warnings: list[str] = []


class Tagger(ConfiguredTagger):
    """Tag audio with one model.

    Parameters
    ----------
    model : str or path
        ``mtt-musicnn``, ``msd-musicnn``, ``mtt-vgg``, ``msd-vgg`` or a model folder.
    weights : path, optional
        Where to find pretrained weights offline (see :mod:`musictag.pretrained.store`).
    hop : float, optional
        Seconds between patch starts; default is the patch length (no overlap, as musicnn).
    batch_size : int
        Patches per forward pass; patches of consecutive files share batches.
    device : str
        Torch device for the model.

    Examples
    --------
    >>> tagger = Tagger("mtt-musicnn")            # doctest: +SKIP
    >>> tagger.tag("song.mp3").top(3)             # doctest: +SKIP
    [('guitar', 0.61), ('rock', 0.43), ('loud', 0.31)]
    """

    def __init__(
        self,
        model: str | os.PathLike = "mtt-musicnn",
        *,
        weights: str | os.PathLike | None = None,
        hop: float | None = None,
        batch_size: int = 4,
        device: str = "cpu",
    ):
        self.folder: Path | None = resolve_model(model, weights=weights)  # None for a model built in memory
        self._setup(*load_model_folder(self.folder), hop=hop, batch_size=batch_size, device=device)

    @classmethod
    def from_model(
        cls,
        module: torch.nn.Module | ClassicalModel,
        config: ModelConfig,
        *,
        hop: float | None = None,
        batch_size: int = 4,
        device: str = "cpu",
    ) -> Tagger:
        """A tagger for a model already in memory (e.g. a backbone being trained on), no folder needed."""
        tagger = cls.__new__(cls)
        tagger.folder = None
        tagger._setup(module, config, hop=hop, batch_size=batch_size, device=device)
        return tagger

    def _setup(
        self,
        module: torch.nn.Module | ClassicalModel,
        config: ModelConfig,
        *,
        hop: float | None,
        batch_size: int,
        device: str,
    ) -> None:
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        self._set_geometry(config, hop)
        self.module = module
        self.device = _device(device)
        self.classical = module if isinstance(module, ClassicalModel) else None
        if self.classical is None:
            self.module.to(self.device).eval()
        self.frontend = LogMel(self.config.frontend_config())
        self.batch_size = min(batch_size, MAX_BATCH)
        self.patcher = _Patcher(self.frontend, self.patch_frames, self.hop_frames)

    @property
    def sample_rate(self) -> int:
        """The rate the model reads audio at (its front end's, or a classical model's descriptors')."""
        return self.classical.sample_rate if self.classical is not None else self.frontend.config.sample_rate

    # -- public API (tag and embed one input: ConfiguredTagger) -------------------------------
    def tag_many(
        self, paths: Iterable[str | os.PathLike | AudioArray], *, embed: str | None = None, workers: int = 0
    ) -> Iterator[TagResult | FileError]:
        """Tag files in order; a file that fails yields a :class:`FileError` and the rest go on.

        ``embed`` also keeps that layer's mean activation (``TagResult.embedding``) from the same
        forward passes. ``workers > 0`` decodes files and computes their log-mels in that many
        processes while this one runs the model (each holds one whole file's patches).
        """
        if self.classical is not None:
            if embed:
                raise ParameterError(f"model {self.name} is a classical model: it has no layers to embed")
            yield from self._tag_classical(paths)
            return
        pool_logits = self.config.score_pooling == "mean_logits"
        layers = ("taggram", "logits") if pool_logits else ("taggram",)
        if embed:
            self._check_layer(embed)
            layers = (*layers, embed) if embed not in layers else layers
        for state, starts in self._run(paths, layers, workers=workers):
            if state.error:
                yield FileError(state.path, state.error)
                continue
            taggram = np.concatenate([o["taggram"] for o in state.outputs])
            scores = taggram.mean(axis=0)
            if pool_logits:
                scores = self._activate(torch.from_numpy(np.concatenate([o["logits"] for o in state.outputs]).mean(0)))
                scores = scores.numpy()
            seconds = self.patch_frames * self.frame_seconds
            embedding = np.concatenate([o[embed] for o in state.outputs]).mean(axis=0) if embed else None
            yield TagResult(
                state.path,
                self.name,
                state.duration,
                self.labels,
                scores,
                taggram,
                starts,
                seconds,
                state.warnings,
                embedding,
            )

    def embed_many(
        self, paths: Iterable[str | os.PathLike | AudioArray], *, layer: str = "penultimate", workers: int = 0
    ) -> Iterator[EmbedResult | FileError]:
        """Like :meth:`tag_many`, returning ``layer``'s activations."""
        if self.classical is not None:
            raise ParameterError(f"model {self.name} is a classical model: it has no layers to embed")
        self._check_layer(layer)
        for state, starts in self._run(paths, (layer,), workers=workers):
            if state.error:
                yield FileError(state.path, state.error)
                continue
            per_patch = np.concatenate([o[layer] for o in state.outputs])
            yield EmbedResult(state.path, self.name, layer, state.duration, per_patch, starts, state.warnings)

    def file_patches(self, audio: str | os.PathLike) -> tuple[torch.Tensor, float]:
        """A file's log-mel patches ``(n, patch_frames, n_mels)`` as the model sees them, and its duration."""
        state = self.patcher.whole_file(str(audio))
        if state.error:
            raise MusictagError(state.error)
        return torch.from_numpy(state.outputs[0]["patches"]), state.duration

    def _layers(self) -> set[str]:
        return set(getattr(self.module, "embedding_dims", {}))

    def _tag_classical(self, sources: Iterable[str | os.PathLike | AudioArray]) -> Iterator[TagResult | FileError]:
        """Descriptors of each whole file, then the pipeline's class probabilities (one row per file)."""
        model = self.classical
        for source in sources:
            state = _FileState(source if isinstance(source, AudioArray) else str(source))
            try:
                if isinstance(source, AudioArray):
                    audio = resampled(source, model.sample_rate)
                else:
                    audio = np.concatenate(list(_measured(AudioStream(source, model.sample_rate), state)))
                state.duration = len(audio) / model.sample_rate
                state.peak = max(state.peak, float(np.abs(audio).max()) if len(audio) else 0.0)
                scores = model.probabilities(model.describe(audio))[0].astype(np.float32)
            except Exception as exc:  # a broken file must not stop the batch
                yield FileError(state.path, failure_line(state.path, exc))
                continue
            warnings = self.patcher.warnings(state, patches=False)
            yield TagResult(
                state.path,
                self.name,
                state.duration,
                self.labels,
                scores,
                scores[None],
                np.zeros(1),
                state.duration,
                warnings,
            )

    # -- pipeline -------------------------------------------------------------------------
    def _forward(self, batch: torch.Tensor, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            features = self.module.forward_features(batch.to(self.device))
            if "taggram" in layers:
                features["taggram"] = self._activate(features["logits"])
            return {layer: features[layer].float().cpu().numpy() for layer in layers}

    def _activate(self, logits: torch.Tensor) -> torch.Tensor:
        return activate(logits, self.config.activation)

    def _run_batches(self, pending: list, layers: tuple[str, ...], *, flush: bool = False) -> list:
        """Run the pending patches in batches of exactly ``batch_size`` (the remainder too when
        flushing) and hand each file its rows; return the patches left for the next batch."""
        total = sum(len(chunk) for _, chunk in pending)
        usable = total if flush else total - total % self.batch_size
        if not usable:
            return pending
        patches = torch.cat([chunk for _, chunk in pending])
        runs = [
            self._forward(patches[s : min(s + self.batch_size, usable)], layers)
            for s in range(0, usable, self.batch_size)
        ]
        outputs = {key: np.concatenate([run[key] for run in runs]) for key in layers}
        left, offset = [], 0
        for state, chunk in pending:
            take = min(len(chunk), max(0, usable - offset))
            if take:
                state.outputs.append({k: v[offset : offset + take] for k, v in outputs.items()})
                state.pending -= take
            if take < len(chunk):
                left.append((state, chunk[take:]))
            offset += len(chunk)
        return left

    def _patched(
        self, paths: Iterable[str | os.PathLike | AudioArray], workers: int
    ) -> Iterator[tuple[_FileState, Iterator[torch.Tensor]]]:
        """Each file's state with its patches: streamed here, or cut whole by worker processes."""
        if workers <= 0:
            for path in paths:
                state = _FileState(path if isinstance(path, AudioArray) else str(path))
                yield state, self.patcher.patches(state)
            return
        sources = [path if isinstance(path, AudioArray) else str(path) for path in paths]
        for state in _ordered_in_workers(partial(_cut_in_worker, self.patcher), sources, workers):
            chunks = [torch.from_numpy(o["patches"]) for o in state.outputs]
            state.outputs = []
            yield state, iter(chunks)

    def _run(
        self, paths: Iterable[str | os.PathLike | AudioArray], layers: tuple[str, ...], *, workers: int = 0
    ) -> Iterator[tuple[_FileState, np.ndarray]]:
        """Yield (file state, patch start times) in input order; patches of consecutive files share batches."""
        waiting: deque[_FileState] = deque()  # files not yet handed out, in order
        pending: list[tuple[_FileState, torch.Tensor]] = []  # patches not yet through the model
        for state, chunks in itertools.chain(self._patched(paths, workers), [(None, None)]):
            if state is not None:
                waiting.append(state)
                try:
                    for chunk in chunks:
                        pending.append((state, chunk))
                        state.pending += len(chunk)
                        if sum(len(c) for _, c in pending) >= self.batch_size:
                            pending = self._run_batches(pending, layers)
                except Exception as exc:  # a broken file must not stop the batch
                    state.error = failure_line(state.path, exc)
            else:
                pending = self._run_batches(pending, layers, flush=True)
            while waiting and (waiting[0].pending == 0 or waiting[0].error):
                state = waiting.popleft()
                n_patches = sum(len(o[layers[0]]) for o in state.outputs)
                yield state, np.arange(n_patches) * self.hop_frames * self.frame_seconds


class _Patcher:
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

    def patches(self, state: _FileState) -> Iterator[torch.Tensor]:
        """The file's patches, streamed; ``state`` gets its duration, peak and warnings."""
        rate = self.frontend.config.sample_rate
        if isinstance(state.source, AudioArray):
            blocks = [resampled(state.source, rate)]
            state.duration = len(state.source.samples) / state.source.sample_rate
        else:
            blocks = AudioStream(state.source, rate)
        frames = (f.numpy() for f in stream_logmel(self.frontend, _measured(blocks, state)))
        for patches in iter_patches(frames, length=self.patch_frames, hop=self.hop_frames):
            yield torch.from_numpy(patches)
        if not isinstance(state.source, AudioArray):
            state.duration = blocks.duration
        state.warnings += self.warnings(state)

    def warnings(self, state: _FileState, *, patches: bool = True) -> list[str]:
        return file_warnings(
            state.path,
            duration=state.duration,
            peak=state.peak,
            patches=patches,
            patch_seconds=self.patch_frames * self.frame_seconds,
            hop_seconds=self.hop_frames * self.frame_seconds,
        )

    def whole_file(self, source: str | AudioArray) -> _FileState:
        """All of a file's patches at once: the state carries them (``outputs[0]["patches"]``), or the error."""
        state = _FileState(source)
        try:
            state.outputs = [{"patches": torch.cat(list(self.patches(state))).numpy()}]
        except Exception as exc:  # a broken file must not stop the batch
            state.error = failure_line(state.path, exc)
        return state


def _cut_in_worker(patcher: _Patcher, source: str | AudioArray) -> _FileState:
    torch.set_num_threads(1)  # the parent's model has the cores; one thread per worker
    return patcher.whole_file(source)


def _ordered_in_workers(function, items: list, workers: int) -> Iterator:
    """``map(function, items)`` in ``workers`` processes, in order, with at most ``2 * workers`` results
    waiting (a fast decoder must not fill memory while the model catches up)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # fork after torch has started threads can hang
    with context.Pool(workers) as pool:
        waiting: deque = deque()
        queue = iter(items)
        for item in queue:
            waiting.append(pool.apply_async(function, (item,)))
            if len(waiting) >= 2 * workers:
                break
        while waiting:
            result = waiting.popleft().get()
            for item in queue:
                waiting.append(pool.apply_async(function, (item,)))
                break
            yield result


def _device(name: str) -> torch.device:
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


def _measured(blocks: Iterable[np.ndarray], state: _FileState) -> Iterator[np.ndarray]:
    """Pass blocks through, keeping the file's peak level."""
    for block in blocks:
        if len(block):
            state.peak = max(state.peak, float(np.abs(block).max()))
        yield block
