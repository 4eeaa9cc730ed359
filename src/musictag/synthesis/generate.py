"""Turn a prompts file into audio clips and a manifest that is itself a musictag data set.

Clips are written atomically as ``<out>/<genre>/<id>.flac`` (with the ``.mid`` beside them for
the procedural backend); a rerun skips clips that exist, so an interrupted run resumes.
The manifest (``<out>/manifest.csv``: path, labels, prompt, seed, backend, duration,
sample_rate) lists every clip that exists, and opens with ``open_dataset``.
"""

from __future__ import annotations

import contextlib
import csv
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from musictag.errors import ParameterError
from musictag.utils.atomic import atomic_open, atomic_path
from musictag.utils.progress import progress

BACKENDS = ("procedural", "musicgen")
MANIFEST_COLUMNS = ("path", "labels", "prompt", "seed", "backend", "duration", "sample_rate")


@dataclass
class SynthReport:
    made: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def clip_path(out: Path, record: dict) -> Path:
    return out / record["genre"] / f"{record.get('id') or record['seed']}.flac"


def _procedural_job(job: tuple[dict, str, float, int]) -> str | None:
    """Compose, write the MIDI, render and write one clip (runs in a worker)."""
    from musictag.synthesis.compose import compose, to_midi
    from musictag.synthesis.render import render

    record, target, duration, sample_rate = job
    try:
        seed = int(record.get("seed", 0))
        arrangement = compose(record["genre"], record["prompt"], seed, duration=duration)
        audio = render(arrangement, sample_rate=sample_rate, seed=seed)
        target = Path(target)
        with atomic_path(target.with_suffix(".mid")) as tmp:
            to_midi(arrangement).write(str(tmp))
        with atomic_path(target) as tmp:
            sf.write(tmp, audio, sample_rate, format="FLAC")
        return None
    except Exception as exc:  # one bad prompt must not stop the run
        return f"{record.get('id', record.get('prompt', '?'))}: {exc}"


def synthesize(records: list[dict], out: str | os.PathLike, *, backend: str = "procedural", duration: float = 10.0,
               sample_rate: int = 22050, workers: int = 1, quiet: bool = True, musicgen=None,
               batch_size: int = 8) -> SynthReport:  # fmt: skip
    """Make every clip of ``records`` not made yet, then (re)write the manifest.

    ``backend='musicgen'`` needs ``musicgen``: a :class:`~musictag.synthesis.musicgen.MusicGen`
    (batches of ``batch_size`` prompts, in this process: the GPU is the parallelism).
    """
    if backend not in BACKENDS:
        raise ParameterError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if duration <= 0 or workers < 1:
        raise ParameterError("duration must be positive and workers at least 1")
    out = Path(out)
    report = SynthReport()
    jobs = []
    for record in records:
        target = clip_path(out, record)
        if target.exists():
            report.skipped += 1
        else:
            jobs.append((record, str(target), duration, sample_rate))
    start = time.perf_counter()
    with contextlib.ExitStack() as stack, progress(len(jobs), quiet=quiet, unit="clip", desc="synth") as bar:
        if backend == "musicgen":
            if musicgen is None:
                raise ParameterError("the musicgen backend needs a model (--model DIR|HUB-ID)")
            results = _musicgen_jobs(musicgen, jobs, batch_size)
        elif workers == 1 or len(jobs) <= 1:
            results = map(_procedural_job, jobs)
        else:
            context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=context))
            results = pool.map(_procedural_job, jobs, chunksize=4)
        for error in results:
            if error:
                report.failed.append(error)
            else:
                report.made += 1
            bar.update(1)
    report.seconds = time.perf_counter() - start
    write_manifest(records, out, backend=backend, duration=duration, sample_rate=sample_rate)
    return report


def _musicgen_jobs(musicgen, jobs: list[tuple[dict, str, float, int]], batch_size: int):
    """Generate and write clips batch by batch; yield one result (None or an error line) per clip."""
    for first in range(0, len(jobs), batch_size):
        batch = jobs[first : first + batch_size]
        _, _, duration, sample_rate = batch[0]
        try:
            clips = musicgen.generate([record["prompt"] for record, *_ in batch], duration=duration,
                                      sample_rate=sample_rate, seed=int(batch[0][0].get("seed", 0)))  # fmt: skip
        except Exception as exc:  # a failed batch is reported clip by clip; the next batch goes on
            yield from (f"{record.get('id', '?')}: {exc}" for record, *_ in batch)
            continue
        for (_, target, _, _), clip in zip(batch, clips, strict=True):
            with atomic_path(Path(target)) as tmp:
                sf.write(tmp, clip, sample_rate, format="FLAC")
            yield None


def write_manifest(records: list[dict], out: Path, *, backend: str, duration: float, sample_rate: int) -> Path:
    target = out / "manifest.csv"
    with atomic_open(target, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        for record in records:
            clip = clip_path(out, record)
            if clip.exists():
                writer.writerow([clip.relative_to(out).as_posix(), record["genre"], record["prompt"],
                                 record.get("seed", 0), backend, duration, sample_rate])  # fmt: skip
    return target


def spectrogram_png(audio: np.ndarray, sample_rate: int, path: Path, title: str) -> None:
    """A log-mel spectrogram picture of a clip (for ``musictag synth preview``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from musictag.features.mel import FrontendConfig, LogMel

    mel = LogMel(FrontendConfig(sample_rate=sample_rate, n_fft=2048, hop_length=512, n_mels=128, compression="db"))
    with torch.inference_mode():
        image = mel(torch.from_numpy(audio)).numpy().T
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=image.max() - 80,
              extent=(0, len(audio) / sample_rate, 0, 128))  # fmt: skip
    ax.set(title=title, xlabel="seconds", ylabel="mel band")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
