"""Turn a prompts file into audio clips and a manifest that is itself a musictag data set.

Clips are written atomically as ``<out>/<genre>/<id>.flac`` (with the ``.mid`` beside them for
the procedural backend). The manifest (``<out>/manifest.csv``: path, labels, prompt, seed,
backend, duration, sample_rate and the backend's settings, e.g. the SoundFont) lists every clip
of the run and opens with ``open_dataset``. A rerun makes only the clips that are missing or were
made with other settings (another prompt, seed, backend, duration, rate or SoundFont), so an
interrupted run resumes and a changed one never keeps stale clips.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from musictag.errors import ParameterError
from musictag.synthesis.backends import ClipJob, MusicGenBackend, ProceduralBackend
from musictag.utils.atomic import atomic_open
from musictag.utils.progress import progress

MANIFEST_COLUMNS = ("path", "labels", "prompt", "seed", "backend", "duration", "sample_rate", "settings")


@dataclass
class SynthReport:
    """What a ``synth audio`` run did: clips made, kept from before and failed."""

    made: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def clip_path(out: Path, record: dict) -> Path:
    """Where the clip of a prompt record goes: ``OUT/GENRE/ID.flac``."""
    return out / record["genre"] / f"{record.get('id') or record['seed']}.flac"


def _settings_text(settings: dict) -> str:
    return ";".join(f"{key}={value}" for key, value in sorted(settings.items()))


def _row(out: Path, record: dict, backend: str, duration: float, sample_rate: int, settings: str) -> dict:
    """A clip's manifest row, as strings (the form the manifest is read back in)."""
    return {
        "path": clip_path(out, record).relative_to(out).as_posix(),
        "labels": record["genre"],
        "prompt": record["prompt"],
        "seed": str(record.get("seed", 0)),
        "backend": backend,
        "duration": str(duration),
        "sample_rate": str(sample_rate),
        "settings": settings,
    }


def _recorded_rows(out: Path) -> dict[str, dict]:
    """The rows of an earlier run's manifest, by clip path (none when there is no readable manifest)."""
    try:
        with open(out / "manifest.csv", newline="", encoding="utf-8") as handle:
            return {row["path"]: row for row in csv.DictReader(handle) if "path" in row}
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}


def synthesize(
    records: list[dict],
    out: str | os.PathLike,
    *,
    backend: ProceduralBackend | MusicGenBackend | None = None,
    duration: float = 10.0,
    sample_rate: int = 22050,
    quiet: bool = True,
) -> SynthReport:
    """Make every clip of ``records`` that is not made yet with these settings, then write the manifest.

    ``backend`` defaults to :class:`ProceduralBackend` in one process.
    """
    if not duration > 0 or not sample_rate > 0:
        raise ParameterError(f"duration and sample rate must be positive, got {duration} and {sample_rate}")
    backend = backend or ProceduralBackend()
    out = Path(out)
    settings = _settings_text(backend.settings())
    recorded = _recorded_rows(out)
    report = SynthReport()
    jobs, rows = [], []
    for record in records:
        row = _row(out, record, backend.name, duration, sample_rate, settings)
        rows.append(row)
        if clip_path(out, record).exists() and recorded.get(row["path"]) == row:
            report.skipped += 1
        else:
            jobs.append(ClipJob(record, str(clip_path(out, record)), duration, sample_rate))
    start = time.perf_counter()
    failed = set()
    with progress(len(jobs), quiet=quiet, unit="clip", desc="synth") as bar:
        for job, error in zip(jobs, backend.run(jobs), strict=True):
            if error:
                report.failed.append(error)
                failed.add(job.target)
            else:
                report.made += 1
            bar.update(1)
    report.seconds = time.perf_counter() - start
    made = [row for row in rows if str(out / row["path"]) not in failed and (out / row["path"]).exists()]
    write_manifest(made, out)
    return report


def write_manifest(rows: list[dict], out: Path) -> Path:
    """Write ``manifest.csv`` (path, genre, prompt, seed) atomically; returns its path."""
    with atomic_open(out / "manifest.csv", newline="") as handle:
        writer = csv.DictWriter(handle, MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return out / "manifest.csv"


def preview(
    genres: list[str], out: str | os.PathLike, *, seed: int = 0, duration: float = 10.0, sample_rate: int = 22050
) -> list[tuple[str, str]]:
    """One procedural clip per genre (``<genre>.flac``, made as ``synth audio`` makes clips) and its
    spectrogram (``<genre>.png``) titled with what was composed; returns (genre, prompt) pairs."""
    import pretty_midi
    import torch

    from musictag.features.config import FrontendConfig
    from musictag.features.mel import LogMel
    from musictag.plots import spectrogram_png
    from musictag.synthesis.backends import render_clip
    from musictag.synthesis.prompts import generate_prompts
    from musictag.synthesis.render import require_synthesizer

    require_synthesizer()
    out = Path(out)
    mel = LogMel(FrontendConfig(sample_rate=sample_rate, n_fft=2048, hop_length=512, n_mels=128, compression="db"))
    shown = []
    for genre in genres:
        record = {"genre": genre, "prompt": generate_prompts(genre, 1, seed=seed)[0], "seed": seed}
        audio, arrangement = render_clip(
            record, duration=duration, sample_rate=sample_rate, target=out / f"{genre}.flac"
        )
        voice = {"sung": f"{arrangement.singer} singer", "rap": f"{arrangement.singer} rapper"}.get(
            arrangement.vocal, "instrumental"
        )
        pitched = {role: p for role, p in arrangement.programs.items() if role not in ("voice", "drums")}
        instruments = ", ".join(f"{role} {pretty_midi.program_to_instrument_name(p)}" for role, p in pitched.items())
        with torch.inference_mode():
            image = mel(torch.from_numpy(audio)).numpy().T
        title = f"{genre}: {arrangement.bpm:.0f} bpm, {arrangement.mode}, {voice}\n{instruments}"
        spectrogram_png(image, len(audio) / sample_rate, out / f"{genre}.png", title=title)
        shown.append((genre, record["prompt"]))
    return shown
