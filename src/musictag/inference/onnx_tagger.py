"""Tag with an exported ONNX model (``--backend onnx``): onnxruntime and numpy, never torch.

Gives the same results as :class:`musictag.inference.tagger.Tagger` (within float rounding): the
same decoding, numpy's log-mel (:mod:`musictag.features.numpy_mel`), the same patches and pooling.
Patches are batched per file; a cold ``musictag tag --backend onnx`` skips torch's import.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musictag.audio.arrays import AudioArray, resampled
from musictag.audio.stream import AudioStream
from musictag.errors import MusictagError, ParameterError, failure_line
from musictag.features.blockwise import stream_logmel
from musictag.features.numpy_mel import NumpyLogMel
from musictag.features.patches import iter_patches
from musictag.inference.base import ConfiguredTagger
from musictag.inference.checks import file_warnings
from musictag.inference.results import EmbedResult, FileError, TagResult
from musictag.models.config import ModelConfig
from musictag.models.onnx_graph import CONFIG_KEY


def read_onnx_config(path: str | os.PathLike) -> ModelConfig:
    """The model config stored in an exported ONNX file."""
    session = _session(path)
    return _config(session, path)


def _session(path: str | os.PathLike, *, threads: int = 0):
    import onnxruntime

    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: no such ONNX file (make one with 'musictag models export MODEL --onnx {path}')")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads  # 0: one per core
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for damaged files
        raise MusictagError(f"{path}: not a readable ONNX model ({str(exc).splitlines()[0]})") from None


def _config(session, path) -> ModelConfig:
    stored = session.get_modelmeta().custom_metadata_map.get(CONFIG_KEY)
    if stored is None:
        raise MusictagError(f"{path}: an ONNX model without musictag's config; export it with 'musictag models export'")
    return ModelConfig(**json.loads(stored))


class OnnxTagger(ConfiguredTagger):
    """Tag and embed with an ONNX file written by :func:`musictag.models.onnx_export.export_onnx`."""

    def __init__(self, model: str | os.PathLike, *, hop: float | None = None, batch_size: int = 16):
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        self.folder = Path(model)  # what identifies the model in a library
        self.session = _session(model)
        self._set_geometry(_config(self.session, model), hop)
        self.outputs = [output.name for output in self.session.get_outputs()]
        self.frontend = NumpyLogMel(self.config.frontend_config())
        self.batch_size = batch_size
        self._one_core = None  # a session on one thread, made when many files are tagged at once

    def tag_many(
        self, paths: Iterable[str | os.PathLike | AudioArray], *, embed: str | None = None, workers: int = 0
    ) -> Iterator[TagResult | FileError]:
        """As :meth:`musictag.inference.tagger.Tagger.tag_many`; ``workers`` files are tagged at once, each
        on one thread (0: two per core, at most 8). Until the last result is taken, numpy's BLAS runs on
        one thread in this process (its idle threads would take cores from the model)."""
        if embed:
            self._check_layer(embed)
        seconds = self.patch_frames * self.frame_seconds
        for path, outputs, duration, warnings in self._run(paths, workers):
            if isinstance(outputs, str):
                yield FileError(path, outputs)
                continue
            logits = outputs["logits"]
            taggram = self._activate(logits)
            pooled = self.config.score_pooling == "mean_logits"
            scores = self._activate(logits.mean(axis=0)) if pooled else taggram.mean(axis=0)
            starts = np.arange(len(logits)) * self.hop_frames * self.frame_seconds
            embedding = outputs[embed].mean(axis=0) if embed else None
            yield TagResult(
                path, self.name, duration, self.labels, scores, taggram, starts, seconds, warnings, embedding
            )

    def embed_many(
        self, paths: Iterable[str | os.PathLike | AudioArray], *, layer: str = "penultimate", workers: int = 0
    ) -> Iterator[EmbedResult | FileError]:
        """As :meth:`musictag.inference.tagger.Tagger.embed_many`; ``workers`` as in :meth:`tag_many`."""
        self._check_layer(layer)
        for path, outputs, duration, warnings in self._run(paths, workers):
            if isinstance(outputs, str):
                yield FileError(path, outputs)
                continue
            per_patch = self._activate(outputs["logits"]) if layer == "taggram" else outputs[layer]
            starts = np.arange(len(per_patch)) * self.hop_frames * self.frame_seconds
            yield EmbedResult(path, self.name, layer, duration, per_patch, starts, warnings)

    def _layers(self) -> set[str]:
        return set(self.outputs[1:])

    def _activate(self, logits: np.ndarray) -> np.ndarray:
        logits = logits.astype(np.float32)
        if self.config.activation == "softmax":
            shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
            return shifted / shifted.sum(axis=-1, keepdims=True)
        return 1.0 / (1.0 + np.exp(-logits))

    def _run(
        self, paths: Iterable[str | os.PathLike | AudioArray], workers: int
    ) -> Iterator[tuple[str, dict | str, float, list[str]]]:
        """Per file or array, in order: (its name, every output per patch, or the error line; duration;
        warnings).

        Many files are tagged ``workers`` at a time (0: two per core, at most 8), each decoded and run
        on one thread: on 2 cores that was 15-25 % faster than one file at a time with onnxruntime
        splitting every layer over the cores (a barrier per layer), and one file's decoding fills the
        time another waits. A lone file (or ``workers=1``) keeps the split layers, so it still uses
        every core, and the next file is decoded while it runs. Decoder, resampler, FFT and
        onnxruntime release the GIL: threads suffice."""
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        # two per core, so no core waits while a file decodes or Python holds the GIL (on 2 cores, 4 workers
        # ran 3-6 % faster than 3 in two interleaved runs, level with 5 and 8); at most 8 by default, since
        # each holds a whole file's patches (a 2-hour file: about 170 MB)
        workers = workers or min(8, 2 * (os.cpu_count() or 1))
        remaining = iter(paths)
        first = list(itertools.islice(remaining, 2))
        sources = itertools.chain(first, remaining)
        # numpy's BLAS (the log-mel's filterbank product) on one thread while the files run: its idle
        # threads spin and took cores from the model (20 tracks, 6 interleaved rounds: 130x -> 147x real
        # time, every round faster; one file: 285 -> 244 ms). The limit holds until the last result is taken.
        with threadpool_limits(1, user_api="blas"):
            if workers == 1 or len(first) < 2:
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix="musictag-decode") as pool:
                    for prepared in _in_order(pool, self._prepare, sources, ahead=1):
                        yield self._infer(prepared, self.session)
                return
            if self._one_core is None:
                self._one_core = _session(self.folder, threads=1)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="musictag-tag") as pool:
                yield from _in_order(pool, self._tag, sources, ahead=workers + 1)

    def _tag(self, raw: str | os.PathLike | AudioArray) -> tuple[str, dict | str, float, list[str]]:
        return self._infer(self._prepare(raw), self._one_core)

    def _prepare(self, raw: str | os.PathLike | AudioArray) -> _Prepared:
        """Decode one file (or array) into patches, or the error line."""
        path = raw.name if isinstance(raw, AudioArray) else str(raw)
        rate = self.frontend.config.sample_rate
        peak = 0.0

        def measured(blocks):
            nonlocal peak
            for block in blocks:
                if len(block):
                    peak = max(peak, float(np.abs(block).max()))
                yield block

        try:
            stream = _InMemory(raw, rate) if isinstance(raw, AudioArray) else AudioStream(path, rate)
            cut = list(
                iter_patches(
                    stream_logmel(self.frontend, measured(stream)), length=self.patch_frames, hop=self.hop_frames
                )
            )
            if not cut:
                raise MusictagError(f"{path}: no audio to tag")
        except Exception as exc:  # a broken file must not stop the batch
            return _Prepared(path, failure_line(path, exc))
        return _Prepared(path, np.concatenate(cut).astype(np.float32), stream.duration, peak)

    def _infer(self, prepared: _Prepared, session) -> tuple[str, dict | str, float, list[str]]:
        path, batch = prepared.path, prepared.patches
        if isinstance(batch, str):
            return path, batch, 0.0, []
        try:
            runs = [
                session.run(None, {"patches": batch[s : s + self.batch_size]})
                for s in range(0, len(batch), self.batch_size)
            ]
        except Exception as exc:
            return path, failure_line(path, exc), 0.0, []
        outputs = {name: np.concatenate([run[i] for run in runs]) for i, name in enumerate(self.outputs)}
        warnings = file_warnings(
            path,
            duration=prepared.duration,
            peak=prepared.peak,
            patch_seconds=self.patch_frames * self.frame_seconds,
            hop_seconds=self.hop_frames * self.frame_seconds,
        )
        return path, outputs, prepared.duration, warnings


def _in_order(pool, function, items: Iterable, *, ahead: int) -> Iterator:
    """``map(function, items)`` on ``pool``, in order, with ``ahead`` calls submitted at a time."""
    from collections import deque

    remaining = iter(items)
    waiting = deque(pool.submit(function, item) for item in itertools.islice(remaining, ahead))
    while waiting:
        done = waiting.popleft().result()
        waiting.extend(pool.submit(function, item) for item in itertools.islice(remaining, 1))
        yield done


@dataclass
class _Prepared:
    """One file ready for the model: its patches ``(n, frames, bands)``, or the error line."""

    path: str
    patches: np.ndarray | str
    duration: float = 0.0
    peak: float = 0.0


class _InMemory:
    """An array read as :class:`~musictag.audio.stream.AudioStream` reads a file: one mono block at ``rate``."""

    def __init__(self, audio: AudioArray, rate: int):
        self.block = resampled(audio, rate)
        self.duration = len(audio.samples) / audio.sample_rate

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.block
