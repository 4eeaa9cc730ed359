"""Tag and embed audio files with a pretrained or trained model.

Decoding and feature extraction run in a background thread while the model runs in the
caller's thread, and patches from consecutive files share batches.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from musictag.audio.stream import AudioStream
from musictag.errors import MusictagError, ParameterError
from musictag.features.mel import LogMel
from musictag.features.stream import stream_logmel
from musictag.inference.patches import iter_patches
from musictag.inference.results import EmbedResult, FileError, TagResult
from musictag.models.folder import is_model_folder, load_model_folder
from musictag.pretrained.catalog import PRETRAINED
from musictag.pretrained.store import ensure_weights

LAYERS = ("penultimate", "mean_pool", "max_pool", "taggram")
_QUEUE_CHUNKS = 8  # patch chunks buffered between the decoding thread and the model


def resolve_model(model: str | os.PathLike, *, weights: str | os.PathLike | None = None) -> Path:
    """A pretrained model's name or a model folder's path -> the model folder."""
    if str(model) in PRETRAINED:
        return ensure_weights(str(model), weights=weights)
    if is_model_folder(model):
        return Path(model)
    raise ParameterError(f"unknown model {str(model)!r}: use one of {', '.join(PRETRAINED)} or a model folder")


class _FileState:
    def __init__(self, path: str):
        self.path = path
        self.outputs: list[dict[str, np.ndarray]] = []
        self.pending = 0  # patches queued but not yet through the model
        self.done = False
        self.duration = 0.0
        self.error: str | None = None


class Tagger:
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
        batch_size: int = 16,
        device: str = "cpu",
    ):
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        self.module, self.config = load_model_folder(resolve_model(model, weights=weights))
        self.device = torch.device(device)
        self.module.to(self.device)
        self.frontend = LogMel(self.config.frontend_config())
        self.batch_size = batch_size
        fe = self.frontend.config
        self.patch_frames = self.config.patch_frames
        self.frame_seconds = fe.hop_length / fe.sample_rate
        if hop is not None and hop <= 0:
            raise ParameterError(f"hop must be positive, got {hop}")
        self.hop_frames = self.patch_frames if hop is None else max(1, round(hop / self.frame_seconds))

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def labels(self) -> list[str]:
        return list(self.config.labels)

    # -- public API ---------------------------------------------------------------------
    def tag(self, path: str | os.PathLike) -> TagResult:
        """Tag one file; raises :class:`MusictagError` if it cannot be read."""
        return _raise_if_error(next(self.tag_many([path])))

    def embed(self, path: str | os.PathLike, *, layer: str = "penultimate") -> EmbedResult:
        """One layer's activations for one file (``per_patch`` and their mean ``embedding``)."""
        return _raise_if_error(next(self.embed_many([path], layer=layer)))

    def tag_many(self, paths: Iterable[str | os.PathLike]) -> Iterator[TagResult | FileError]:
        """Tag files in order; a file that fails yields a :class:`FileError` and the rest go on."""
        for state, starts in self._run(paths, ("taggram",)):
            if state.error:
                yield FileError(state.path, state.error)
                continue
            taggram = np.concatenate([o["taggram"] for o in state.outputs])
            yield TagResult(state.path, self.name, state.duration, self.labels, taggram.mean(axis=0), taggram,
                            starts, self.patch_frames * self.frame_seconds)  # fmt: skip

    def embed_many(self, paths: Iterable[str | os.PathLike], *, layer: str = "penultimate") -> Iterator[EmbedResult | FileError]:
        """Like :meth:`tag_many`, returning ``layer``'s activations."""
        if layer not in LAYERS:
            raise ParameterError(f"unknown layer {layer!r}; choose from {', '.join(LAYERS)}")
        available = set(getattr(self.module, "embedding_dims", {})) | {"taggram"}
        if layer not in available:
            raise ParameterError(f"model {self.name} has no layer {layer!r}; it has {', '.join(sorted(available))}")
        for state, starts in self._run(paths, (layer,)):
            if state.error:
                yield FileError(state.path, state.error)
                continue
            per_patch = np.concatenate([o[layer] for o in state.outputs])
            yield EmbedResult(state.path, self.name, layer, state.duration, per_patch, starts)

    # -- pipeline -------------------------------------------------------------------------
    def _file_patches(self, path: str, state: _FileState) -> Iterator[torch.Tensor]:
        audio = AudioStream(path, self.frontend.config.sample_rate)
        frames = stream_logmel(self.frontend, audio)
        yield from iter_patches(frames, length=self.patch_frames, hop=self.hop_frames)
        state.duration = audio.duration

    def _produce(self, states: list[_FileState], out: queue.Queue, stop: threading.Event) -> None:
        for index, state in enumerate(states):
            try:
                for chunk in self._file_patches(state.path, state):
                    for start in range(0, len(chunk), self.batch_size):
                        if stop.is_set():
                            return
                        out.put((index, chunk[start : start + self.batch_size]))
            except MusictagError as exc:
                state.error = str(exc)
            except Exception as exc:  # a decoder library failing on a broken file must not stop the batch
                state.error = f"{state.path}: {type(exc).__name__}: {exc}".splitlines()[0]
            out.put((index, None))
        out.put(None)

    def _forward(self, batch: torch.Tensor, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            features = self.module.forward_features(batch.to(self.device))
            result = {}
            for layer in layers:
                if layer == "taggram":
                    logits = features["logits"]
                    probs = torch.softmax(logits, -1) if self.config.activation == "softmax" else torch.sigmoid(logits)
                    result[layer] = probs.float().cpu().numpy()
                else:
                    result[layer] = features[layer].float().cpu().numpy()
        return result

    def _run(self, paths: Iterable[str | os.PathLike], layers: tuple[str, ...]) -> Iterator[tuple[_FileState, np.ndarray]]:
        states = [_FileState(str(p)) for p in paths]
        chunks: queue.Queue = queue.Queue(maxsize=_QUEUE_CHUNKS)
        stop = threading.Event()
        producer = threading.Thread(target=self._produce, args=(states, chunks, stop), daemon=True)
        producer.start()
        pending: list[tuple[int, torch.Tensor]] = []
        n_pending = 0
        next_out = 0
        finished = False
        try:
            while not finished or pending:
                item = None if finished else chunks.get()
                if item is None:
                    finished = True
                else:
                    index, chunk = item
                    if chunk is None:
                        states[index].done = True
                    else:
                        pending.append((index, chunk))
                        states[index].pending += len(chunk)
                        n_pending += len(chunk)
                if pending and (n_pending >= self.batch_size or finished):
                    self._run_batch(pending, states, layers)
                    pending, n_pending = [], 0
                while next_out < len(states) and states[next_out].done and not states[next_out].pending:
                    state = states[next_out]
                    starts = np.arange(sum(len(o[layers[0]]) for o in state.outputs)) * self.hop_frames
                    yield state, starts * self.frame_seconds
                    states[next_out] = None  # free its outputs
                    next_out += 1
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                try:
                    chunks.get_nowait()
                except queue.Empty:
                    producer.join(timeout=0.05)

    def _run_batch(self, pending: list[tuple[int, torch.Tensor]], states: list, layers: tuple[str, ...]) -> None:
        outputs = self._forward(torch.cat([chunk for _, chunk in pending]), layers)
        offset = 0
        for index, chunk in pending:
            n = len(chunk)
            states[index].outputs.append({k: v[offset : offset + n] for k, v in outputs.items()})
            states[index].pending -= n
            offset += n


def _raise_if_error(result):
    if isinstance(result, FileError):
        raise MusictagError(result.error)
    return result
