"""Genre descriptions for text-to-music generation, written by a seeded grammar (no network).

Each prompt is one fluent sentence built from a genre's vocabulary: mood, tempo, era,
instruments, voices, playing style, setting and production, in one of several sentence shapes, e.g.
"A lively instrumental country track featuring twangy guitars and an upbeat fiddle, with a
two-step groove, perfect for a barn dance." The same seed gives the same prompts; duplicates
are never written.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path

from musictag.errors import ParameterError
from musictag.synthesis.vocabulary import GENRES, MOODS, PRODUCTION, TEMPOS
from musictag.utils.atomic import atomic_open

_TEMPLATES = (
    "{a_mood} {era} {genre} track featuring {inst1} and {inst2}, {playing}, perfect for {setting}.",
    "{a_tempo}, {mood} {genre} piece with {inst1} in the lead over {inst2}, {production}.",
    "{mood} {era} {genre} with {inst1}, {inst2} and {inst3}, {playing}, evoking {setting}.",
    "{a_tempo} instrumental {genre} tune built on {inst1} and {inst2}, {production}.",
    "Imagine {setting}: {a_mood}, {tempo} {genre} song built around {inst1}, {playing}.",
    "{a_mood} {genre} groove of {inst1} and {inst2}, {playing}, {production}.",
)
_VOICE_TEMPLATES = (  # for genres whose vocabulary has voices
    "{a_mood} {era} {genre} song with {voice} over {inst1} and {inst2}, {playing}.",
    "{a_tempo} {genre} track with {voice} riding on {inst1}, {production}.",
    "{mood} {genre} with {voice}, {inst1} and {inst2}, evoking {setting}.",
)
# tempo words a mood rules out (a "serene, frantic" song reads as noise)
_CLASHES = {"calm": "fast", "sad": "fast", "intense": "slow"}


def _with_article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _sentence(genre: str, vocab: dict[str, list[str]], rng: random.Random) -> str:
    mood_kind = rng.choice(vocab["moods"])
    tempos = [t for t in vocab["tempos"] if t != _CLASHES.get(mood_kind)] or vocab["tempos"]
    mood, tempo = rng.choice(MOODS[mood_kind]), rng.choice(TEMPOS[rng.choice(tempos)])
    inst1, inst2, inst3 = rng.sample(vocab["instruments"], 3)
    templates = _TEMPLATES + _VOICE_TEMPLATES if vocab.get("voices") else _TEMPLATES
    text = rng.choice(templates).format(
        mood=mood,
        a_mood=_with_article(mood),
        tempo=tempo,
        a_tempo=_with_article(tempo),
        era=rng.choice(vocab["eras"]),
        genre=genre,
        inst1=inst1,
        inst2=inst2,
        inst3=inst3,
        playing=rng.choice(vocab["playing"]),
        setting=rng.choice(vocab["settings"]),
        production=rng.choice(PRODUCTION),
        voice=rng.choice(vocab.get("voices") or [""]),
    )
    return text[0].upper() + text[1:]


def generate_prompts(genre: str, count: int, *, seed: int = 0, genres: dict | None = None) -> list[str]:
    """``count`` distinct descriptions of ``genre`` (fewer only if the vocabulary runs out)."""
    genres = GENRES if genres is None else genres
    if genre not in genres:
        raise ParameterError(f"no vocabulary for genre {genre!r}; known: {', '.join(sorted(genres))}")
    rng = random.Random(f"{seed}:{genre}")
    seen: dict[str, None] = {}
    attempts = 0
    while len(seen) < count and attempts < 20 * count + 100:
        seen.setdefault(_sentence(genre, genres[genre], rng))
        attempts += 1
    return list(seen)


def write_prompts(
    path: str | os.PathLike,
    genres: list[str],
    per_genre: int,
    *,
    seed: int = 0,
    source: Callable[..., list[str]] = generate_prompts,
) -> int:
    """Write ``per_genre`` prompts per genre as JSON lines (``id``, ``genre``, ``prompt``, ``seed``).

    ``source(genre, count, seed=seed)`` writes the descriptions: the grammar by default, or a
    language model (:func:`musictag.synthesis.llm.llm_prompts` with its client bound).
    """
    batches = {genre: source(genre, per_genre, seed=seed) for genre in genres}  # all or nothing
    written = 0
    with atomic_open(Path(path)) as handle:
        for genre in genres:
            for n, prompt in enumerate(batches[genre]):
                clip_seed = seed * 1_000_003 + written  # the seed the audio generator will use for this clip
                record = {"id": f"{genre}-{n:05d}", "genre": genre, "prompt": prompt, "seed": clip_seed}
                handle.write(json.dumps(record) + "\n")
                written += 1
    return written


def read_prompts(path: str | os.PathLike) -> list[dict]:
    """The records of a prompts file; a bad line is an error naming the file and line."""
    records = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f"make one with 'musictag synth prompts --out {path}'"
        raise ParameterError(f"{path}: no such prompts file ({hint})") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ParameterError(f"{path}: cannot read the prompts file ({reason})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not {"genre", "prompt"} <= set(record):
                raise ValueError("needs 'genre' and 'prompt'")
        except ValueError as exc:
            raise ParameterError(f"{path}:{number}: not a prompt record ({exc})") from None
        records.append(record)
    return records
