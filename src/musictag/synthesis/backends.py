"""Text-to-music backends: each turns prompt records into clips written atomically as FLAC.

A backend has a ``name``, the ``settings`` that decide what its clips sound like (recorded in the
manifest, so that a rerun with other settings remakes the clips instead of keeping stale ones),
and ``run(jobs)``, which makes each job's clip and yields ``None`` or a one-line error per job, in
order. :class:`ProceduralBackend` composes and renders offline; :class:`MusicGenBackend` wraps a
:class:`~musictag.synthesis.musicgen.MusicGen` model. Heavy imports happen in the code that needs them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from musictag.errors import ParameterError
from musictag.utils.atomic import atomic_path

if TYPE_CHECKING:
    import numpy as np

    from musictag.synthesis.compose import Arrangement

BACKENDS = ("procedural", "musicgen")


@dataclass(frozen=True)
class ClipJob:
    """One clip to make: its prompt record and where, how long and at what rate to write it."""

    record: dict
    target: str
    duration: float
    sample_rate: int


def render_clip(
    record: dict, *, duration: float, sample_rate: int, target: str | Path | None = None
) -> tuple[np.ndarray, Arrangement]:
    """Compose and render ``record``'s prompt procedurally; with ``target``, write the clip there
    (and its MIDI beside it). Returns ``(audio, arrangement)``."""
    import soundfile as sf

    from musictag.synthesis.compose import compose, to_midi
    from musictag.synthesis.render import render

    seed = int(record.get("seed", 0))
    arrangement = compose(record["genre"], record["prompt"], seed, duration=duration)
    audio = render(arrangement, sample_rate=sample_rate, seed=seed)
    if target is not None:
        target = Path(target)
        with atomic_path(target.with_suffix(".mid")) as tmp:
            to_midi(arrangement).write(str(tmp))
        with atomic_path(target) as tmp:
            sf.write(tmp, audio, sample_rate, format="FLAC")
    return audio, arrangement


def _procedural_job(job: ClipJob) -> str | None:
    """Make one clip (runs in a worker); a failure is returned as one line, never raised."""
    try:
        render_clip(job.record, duration=job.duration, sample_rate=job.sample_rate, target=job.target)
        return None
    except Exception as exc:  # one bad prompt must not stop the run
        return f"{job.record.get('id', job.record.get('prompt', '?'))}: {exc}"


class ProceduralBackend:
    """The offline composer and SoundFont renderer, in ``workers`` processes."""

    name = "procedural"

    def __init__(self, *, workers: int = 1):
        if workers < 1:
            raise ParameterError(f"workers must be at least 1, got {workers}")
        from musictag.synthesis.render import require_synthesizer

        require_synthesizer()
        self.workers = workers

    def settings(self) -> dict:
        """What decides the clips' sound (a changed setting makes clips again)."""
        from musictag.synthesis.render import default_soundfont, rap_voice

        return {"soundfont": default_soundfont().name, "voice": rap_voice()}

    def run(self, jobs: list[ClipJob]) -> Iterator[str | None]:
        """Render ``jobs``; yields per job None when written, or its one-line error."""
        if self.workers == 1 or len(jobs) <= 1:
            yield from map(_procedural_job, jobs)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(self.workers, mp_context=context) as pool:  # shut down on errors too
            yield from pool.map(_procedural_job, jobs, chunksize=4)


class MusicGenBackend:
    """MusicGen (a model folder or hub id, or a loaded :class:`~musictag.synthesis.musicgen.MusicGen`),
    ``batch_size`` prompts per generation, in this process: the GPU is the parallelism."""

    name = "musicgen"

    def __init__(self, model, *, batch_size: int = 8):
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        if isinstance(model, str):
            from musictag.synthesis.musicgen import MusicGen

            self.model_name, model = model, MusicGen(model)
        else:
            self.model_name = type(getattr(model, "model", model)).__name__
        self.model, self.batch_size = model, batch_size

    def settings(self) -> dict:
        """What decides the clips' sound (a changed setting makes clips again)."""
        return {"model": self.model_name}

    def run(self, jobs: list[ClipJob]) -> Iterator[str | None]:
        """Render ``jobs``; yields per job None when written, or its one-line error."""
        import soundfile as sf

        for first in range(0, len(jobs), self.batch_size):
            batch = jobs[first : first + self.batch_size]
            try:
                clips = self.model.generate(
                    [job.record["prompt"] for job in batch],
                    duration=batch[0].duration,
                    sample_rate=batch[0].sample_rate,
                    seed=int(batch[0].record.get("seed", 0)),
                )
            except Exception as exc:  # a failed batch is reported clip by clip; the next batch goes on
                yield from (f"{job.record.get('id', '?')}: {exc}" for job in batch)
                continue
            for job, clip in zip(batch, clips, strict=True):
                with atomic_path(Path(job.target)) as tmp:
                    sf.write(tmp, clip, job.sample_rate, format="FLAC")
                yield None


def make_backend(
    name: str, *, model: str | None = None, workers: int = 1, batch_size: int = 8
) -> ProceduralBackend | MusicGenBackend:
    """The backend called ``name`` (one of :data:`BACKENDS`)."""
    if name == "procedural":
        return ProceduralBackend(workers=workers)
    if name == "musicgen":
        return MusicGenBackend(model or "facebook/musicgen-medium", batch_size=batch_size)
    raise ParameterError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
