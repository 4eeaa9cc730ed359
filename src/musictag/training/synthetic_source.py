"""``synth:N`` as training data: N procedural clips per genre, rendered once into the cache.

A recipe can then name synthetic clips as data (``transfer.extra: {"synth:100": 0.3}``) and its one
command does everything: the prompts are written and the clips rendered on first use, under
``<cache>/synthetic/``, and a rerun, or an interrupted render, makes only what is missing (clips
made with other settings, e.g. another SoundFont or voice, are made again).
"""

from __future__ import annotations

import os
from pathlib import Path

from musictag.errors import ParameterError
from musictag.utils.paths import cache_dir

PREFIX = "synth:"
CLIP_SECONDS = 10.0
SAMPLE_RATE = 22050


def is_synthetic(spec: str) -> bool:
    """Whether a SPEC names rendered synthetic clips (``synth:N[?seed=S]``)."""
    return spec.startswith(PREFIX)


def synthetic_manifest(spec: str, genres: list[str], *, quiet: bool = True) -> Path:
    """The manifest of ``spec``'s clips of ``genres`` (``synth:N[?seed=S]``: N prompts per genre from
    the prompt grammar with seed S, default 0), rendering whatever is not in the cache yet."""
    import hashlib
    from urllib.parse import parse_qsl

    from musictag.synthesis.backends import ProceduralBackend
    from musictag.synthesis.generate import synthesize
    from musictag.synthesis.prompts import read_prompts, write_prompts
    from musictag.synthesis.vocabulary import GENRES
    from musictag.utils.progress import report

    count, _, query = spec.removeprefix(PREFIX).partition("?")
    options = dict(parse_qsl(query))
    try:
        per_genre, seed = int(count), int(options.pop("seed", 0))
    except ValueError:
        raise ParameterError(f"{spec}: synthetic clips are named synth:N[?seed=S] (N clips per genre)") from None
    if per_genre < 1 or options:
        raise ParameterError(f"{spec}: synthetic clips are named synth:N[?seed=S] with N >= 1")
    unknown = sorted(set(genres) - set(GENRES))
    if unknown:
        raise ParameterError(
            f"{spec}: the composer has no style for {', '.join(unknown)} (it knows {', '.join(sorted(GENRES))}); "
            "leave synthetic clips out with --set 'transfer.extra={}'"
        )
    key = hashlib.sha256(f"{per_genre}:{seed}:{','.join(genres)}".encode()).hexdigest()[:12]
    folder = cache_dir() / "synthetic" / f"{per_genre}-per-genre-seed{seed}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    prompts = folder / "prompts.jsonl"
    if not prompts.exists():
        write_prompts(prompts, genres, per_genre, seed=seed)
    records = read_prompts(prompts)
    done = synthesize(
        records,
        folder,
        backend=ProceduralBackend(workers=os.cpu_count() or 1),
        duration=CLIP_SECONDS,
        sample_rate=SAMPLE_RATE,
        quiet=quiet,
    )
    if done.made:
        report(f"musictag: rendered {done.made} synthetic clips into {folder} ({done.seconds / 60:.1f} min)")
    if done.failed:
        report(f"musictag: {len(done.failed)} synthetic clips failed, e.g. {done.failed[0]}")
    return folder / "manifest.csv"
