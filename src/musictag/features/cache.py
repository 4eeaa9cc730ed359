"""A cache of log-mel spectrograms, keyed by audio content and front-end config.

Layout: ``<root>/<config key>/<hh>/<content hash>.npy`` (float16, ``(frames, n_mels)``) with
the config beside it in ``config.json``. Every write is atomic, so a killed extraction
leaves only whole files and a rerun computes just what is missing. Arrays are read back
memory-mapped: a 100,000-clip set never has to fit in RAM.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from musictag.audio.stream import AudioStream
from musictag.errors import MusictagError, ParameterError, failure_line
from musictag.features.blockwise import stream_logmel
from musictag.features.config import FrontendConfig
from musictag.features.mel import LogMel
from musictag.features.patches import random_crop
from musictag.utils.atomic import atomic_open, atomic_path
from musictag.utils.hashing import content_hash
from musictag.utils.memory import keep_freed_memory
from musictag.utils.paths import cache_dir
from musictag.utils.progress import progress


def config_key(config: FrontendConfig) -> str:
    """A short stable hash of a front-end config: the cache key's settings half."""
    text = json.dumps(config.to_dict(), sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass
class ExtractReport:
    """What an extraction did: counts, failures (path, one-line reason), and time per stage."""

    computed: int = 0
    reused: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("decode", "resample", "logmel", "write"), 0.0)
    )
    audio_seconds: float = 0.0


class FeatureCache:
    """Log-mel features of audio files for one front end.

    Parameters
    ----------
    root : path
        Cache folder shared by all front ends (default ``<musictag cache>/features``).
    frontend : FrontendConfig
        The front end; its settings select the sub-folder.
    """

    def __init__(self, root: str | os.PathLike | None, frontend: FrontendConfig):
        self.base = Path(root) if root is not None else cache_dir() / "features"
        self.frontend = frontend
        self.root = self.base / config_key(frontend)
        self._memo_path = self.base / "hashes-xxh3.json"
        self._memo: dict[str, list] | None = None

    # -- keys -----------------------------------------------------------------------------
    def _load_memo(self) -> dict[str, list]:
        if self._memo is None:
            try:
                self._memo = json.loads(self._memo_path.read_text())
            except (OSError, json.JSONDecodeError):
                self._memo = {}
        return self._memo

    def key(self, audio: str | os.PathLike) -> str:
        """Content hash of ``audio``, remembered per (path, size, mtime) so reruns skip rehashing."""
        stat = os.stat(audio)
        name = str(Path(audio).resolve())
        memo = self._load_memo()
        known = memo.get(name)
        if known and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
            return known[2]
        digest = content_hash(audio)
        memo[name] = [stat.st_size, stat.st_mtime_ns, digest]
        return digest

    def save_memo(self) -> None:
        """Write the memo of path, size and mtime to content hash, so a rerun need not hash files again."""
        if self._memo:
            with atomic_open(self._memo_path) as handle:
                json.dump(self._memo, handle)

    def path_for(self, key: str) -> Path:
        """Where the features of cache key ``key`` are stored."""
        return self.root / key[:2] / f"{key}.npy"

    # -- reading --------------------------------------------------------------------------
    def load(self, audio: str | os.PathLike) -> np.ndarray:
        """The cached ``(frames, n_mels)`` float16 array of ``audio``, memory-mapped."""
        path = self.path_for(self.key(audio))
        if not path.exists():
            raise MusictagError(f"{audio}: no cached features for this front end (run 'musictag features extract')")
        return np.load(path, mmap_mode="r")

    def crop(self, audio: str | os.PathLike, frames: int, rng: np.random.Generator) -> np.ndarray:
        """A random ``frames``-long float32 crop; shorter tracks are padded by repetition."""
        return random_crop(self.load(audio), frames, lambda starts: int(rng.integers(0, starts)))

    # -- writing --------------------------------------------------------------------------
    def _write_config(self) -> None:
        target = self.root / "config.json"
        if not target.exists():
            with atomic_open(target) as handle:
                json.dump(self.frontend.to_dict(), handle, indent=2)

    def extract(
        self, audio_paths: Iterable[str | os.PathLike], *, workers: int = 1, quiet: bool = True
    ) -> ExtractReport:
        """Compute features for every file not cached yet, in ``workers`` processes.

        Failures are collected (one line each), never raised: the other files go on.
        """
        if workers < 1:
            raise ParameterError(f"workers must be at least 1, got {workers}")
        report = ExtractReport()
        todo: list[tuple[str, str]] = []
        for audio in audio_paths:
            try:
                key = self.key(audio)
            except OSError as exc:
                report.failed.append((str(audio), f"{audio}: cannot read ({exc.strerror})"))
                continue
            if self.path_for(key).exists():
                report.reused += 1
            else:
                todo.append((str(audio), key))
        self.save_memo()
        self._write_config()
        with progress(len(todo), quiet=quiet, desc="features") as bar:
            for audio, error, timings, seconds in self._compute_all(todo, workers):
                if error:
                    report.failed.append((audio, error))
                else:
                    report.computed += 1
                    report.audio_seconds += seconds
                    for stage, value in timings.items():
                        report.timings[stage] += value
                bar.update(1)
        return report

    def _compute_all(self, todo: list[tuple[str, str]], workers: int) -> Iterator[tuple]:
        jobs = [(audio, str(self.path_for(key)), self.frontend.to_dict()) for audio, key in todo]
        if workers == 1 or len(jobs) <= 1:
            threads = torch.get_num_threads()
            _init_worker()  # one worker is one core, as with the pool
            try:
                yield from map(_compute_job, jobs)
            finally:
                torch.set_num_threads(threads)
                torch.set_flush_denormal(False)
                keep_freed_memory(False)
            return
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            yield from pool.map(_compute_job, jobs, chunksize=4)


def _init_worker() -> None:
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # quiet passages produce denormal mel powers, 20 % slower to multiply
    keep_freed_memory()  # every file allocates and frees the same few-MB arrays: no page faults for them


_FRONTENDS: dict[str, LogMel] = {}


def _compute_job(job: tuple[str, str, dict]) -> tuple[str, str | None, dict, float]:
    """Decode, compute and atomically store one file's features (runs in a worker)."""
    audio, target, frontend_dict = job
    key = json.dumps(frontend_dict, sort_keys=True)
    if key not in _FRONTENDS:
        _FRONTENDS[key] = LogMel(FrontendConfig.from_dict(frontend_dict))
    frontend = _FRONTENDS[key]
    try:
        stream = AudioStream(audio, frontend.config.sample_rate)
        start = time.perf_counter()
        with torch.inference_mode():
            frames = list(stream_logmel(frontend, stream))
        features = (torch.cat(frames) if frames else torch.zeros(0, frontend.config.n_mels)).half().numpy()
        logmel = time.perf_counter() - start - sum(stream.timings.values())
        start = time.perf_counter()
        with atomic_path(target) as tmp:
            np.save(tmp, features)
        timings = {**stream.timings, "logmel": logmel, "write": time.perf_counter() - start}
        return audio, None, timings, stream.duration
    except Exception as exc:  # a broken file must not stop the batch
        return audio, failure_line(audio, exc), {}, 0.0
