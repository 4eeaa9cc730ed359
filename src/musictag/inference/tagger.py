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
from musictag.errors import ParameterError, failure_line
from musictag.features.mel import LogMel
from musictag.inference.base import ConfiguredTagger
from musictag.inference.model import FileState, LoadedModel, Patcher, measured_blocks
from musictag.inference.results import EmbedResult, FileError, TagResult
from musictag.models.classical import ClassicalModel
from musictag.models.config import ModelConfig
from musictag.models.model_folder import activate

#: The most patches one forward pass takes, whatever ``batch_size`` asks: a musicnn patch costs
#: about 14 MB of activations on the CPU, and batches past a few dozen patches are no faster.
MAX_BATCH = 64


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
        self._setup(LoadedModel.open(model, weights=weights, hop=hop, device=device), batch_size=batch_size)

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
        tagger._setup(LoadedModel(module, config, hop=hop, device=device), batch_size=batch_size)
        return tagger

    def _setup(self, model: LoadedModel, *, batch_size: int) -> None:
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self._set_geometry(model.config, model.hop)
        self.batch_size = min(batch_size, MAX_BATCH)

    # what explanations and concept vectors read: the model held, apart from this batching runner
    @property
    def module(self) -> torch.nn.Module | ClassicalModel:
        """The network (or classical pipeline)."""
        return self.model.module

    @property
    def classical(self) -> ClassicalModel | None:
        """The classical pipeline, or None for a network."""
        return self.model.classical

    @property
    def folder(self) -> Path | None:
        """Where the model's files are (None for a model built in memory)."""
        return self.model.folder

    @property
    def device(self) -> torch.device:
        """The torch device the network runs on."""
        return self.model.device

    @property
    def frontend(self) -> LogMel:
        """The log-mel front end."""
        return self.model.frontend

    @property
    def patcher(self) -> Patcher:
        """Cuts a file into the model's patches (picklable, for worker processes)."""
        return self.model.patcher

    @property
    def sample_rate(self) -> int:
        """The rate the model reads audio at (its front end's, or a classical model's descriptors')."""
        return self.model.sample_rate

    def file_patches(self, audio: str | os.PathLike) -> tuple[torch.Tensor, float]:
        """A file's log-mel patches ``(n, patch_frames, n_mels)`` as the model sees them, and its duration."""
        return self.model.file_patches(audio)

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

    def _layers(self) -> set[str]:
        return set(getattr(self.module, "embedding_dims", {}))

    def _tag_classical(self, sources: Iterable[str | os.PathLike | AudioArray]) -> Iterator[TagResult | FileError]:
        """Descriptors of each whole file, then the pipeline's class probabilities (one row per file)."""
        model = self.classical
        for source in sources:
            state = FileState(source if isinstance(source, AudioArray) else str(source))
            try:
                if isinstance(source, AudioArray):
                    audio = resampled(source, model.sample_rate)
                else:
                    audio = np.concatenate(list(measured_blocks(AudioStream(source, model.sample_rate), state)))
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
    ) -> Iterator[tuple[FileState, Iterator[torch.Tensor]]]:
        """Each file's state with its patches: streamed here, or cut whole by worker processes."""
        if workers <= 0:
            for path in paths:
                state = FileState(path if isinstance(path, AudioArray) else str(path))
                yield state, self.patcher.patches(state)
            return
        sources = [path if isinstance(path, AudioArray) else str(path) for path in paths]
        for state in _ordered_in_workers(partial(_cut_in_worker, self.patcher), sources, workers):
            chunks = [torch.from_numpy(o["patches"]) for o in state.outputs]
            state.outputs = []
            yield state, iter(chunks)

    def _run(
        self, paths: Iterable[str | os.PathLike | AudioArray], layers: tuple[str, ...], *, workers: int = 0
    ) -> Iterator[tuple[FileState, np.ndarray]]:
        """Yield (file state, patch start times) in input order; patches of consecutive files share batches."""
        waiting: deque[FileState] = deque()  # files not yet handed out, in order
        pending: list[tuple[FileState, torch.Tensor]] = []  # patches not yet through the model
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


def _cut_in_worker(patcher: Patcher, source: str | AudioArray) -> FileState:
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
