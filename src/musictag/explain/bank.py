"""Concept banks: procedural clips that carry a musical concept, and matched clips without it.

The procedural composer renders every role as its own stem, so a concept's clip and its matched
clip can share everything else: the same arrangement, seed, production chain and master gain,
with the concept's stem left out (drums, a distorted guitar, a singer, a bass line, piano, strings,
brass, a percussion overlay such as a cowbell) or one musical choice changed back (swing, a
four-on-the-floor kick, a fast tempo). Random sets (clips of any genre with a random subset of
stems) are the negatives and the null distribution of TCAV; ``inputs`` is a separate random set
whose gradients TCAV scores.

Layout of a bank folder::

    <concept>/positive/<concept>_000.flac    the concept
    <concept>/matched/<concept>_000.flac     the same clip without it
    random/random_00/random_00_000.flac      random sets
    inputs/input_000.flac                    clips to score
    bank.json                                what every clip is

A user's own concept is a folder of audio files (``<name>/*.wav``, or ``<name>/positive/``).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from musictag.errors import ParameterError
from musictag.synthesis.compose import Arrangement, Note, compose
from musictag.synthesis.styles import KICK, STYLES
from musictag.utils.atomic import atomic_open, atomic_path

#: a concept's stem or overlay quieter than this against the rest of the mix (RMS, dB) is raised to it:
#: at the SoundFont's levels a piano comp sat 13-24 dB and a cowbell 12-20 dB under the mix, where a
#: listener, or a model, hardly hears it
AUDIBLE_DB = -6.0
_DRUMMED = ("blues", "country", "disco", "hiphop", "metal", "pop", "reggae", "rock")
_FOUR_ON_THE_FLOOR = "x...x...x...x..."
_OTHER_KICKS = ("x.......x.x.....", "x......x..x.....", "x.x.......x..x..", "x.....x.x.......")


@dataclass(frozen=True)
class Concept:
    """How one concept is rendered and what its matched clip lacks.

    ``stem``: the role the matched clip leaves out; ``overlay``: a General MIDI percussion key played
    in ``pattern`` (16 steps per bar) on top of the drums, left out of the matched clip; ``change``:
    ``swing`` | ``four_on_the_floor`` | ``fast_tempo``, the one choice the matched clip makes otherwise.
    """

    name: str
    description: str
    hosts: tuple[str, ...]
    prompt: str = "instrumental"
    stem: str | None = None
    overlay: int | None = None
    pattern: str = "x...x...x...x..."
    change: str | None = None


CONCEPTS: dict[str, Concept] = {
    c.name: c
    for c in (
        Concept("drums", "a drum kit", _DRUMMED, stem="drums"),
        Concept(
            "distorted_guitar",
            "overdriven electric guitar chords",
            ("rock", "metal"),
            "instrumental distorted guitar",
            stem="comp",
        ),
        Concept(
            "singing_voice",
            "a singer carrying the melody",
            ("blues", "country", "disco", "pop", "reggae", "rock"),
            "with vocals",
            stem="voice",
        ),
        Concept(
            "bass_line",
            "a bass line",
            ("blues", "country", "disco", "hiphop", "jazz", "pop", "reggae", "rock"),
            stem="bass",
        ),
        Concept("piano", "piano accompaniment", ("classical", "pop"), "instrumental piano", stem="comp"),
        Concept("strings", "a string section", ("classical", "disco", "pop"), "instrumental strings", stem="comp"),
        Concept(
            "brass",
            "a brass section playing the melody",
            ("disco", "jazz", "pop", "reggae"),
            "instrumental horn",
            stem="lead",
        ),
        Concept(
            "swing_feel",
            "swung eighths (the matched clip is straight)",
            ("blues", "jazz", "pop", "rock"),
            change="swing",
        ),
        Concept(
            "four_on_the_floor",
            "a kick on every beat (the matched clip's kick is syncopated)",
            ("disco", "hiphop", "pop", "rock"),
            change="four_on_the_floor",
        ),
        Concept(
            "fast_tempo",
            "168-183 BPM (the matched clip is the same music at half tempo)",
            _DRUMMED,
            change="fast_tempo",
        ),
        Concept("cowbell", "a cowbell on every beat", _DRUMMED, overlay=56),
        Concept("tambourine", "a tambourine on the off-beat eighths", _DRUMMED, overlay=54, pattern="..x...x...x...x."),
        Concept("triangle", "a triangle twice a bar", _DRUMMED, overlay=81, pattern="x.......x......."),
        Concept("shaker", "a shaker on every sixteenth", _DRUMMED, overlay=70, pattern="xxxxxxxxxxxxxxxx"),
        Concept("woodblock", "a woodblock pattern", _DRUMMED, overlay=76, pattern="x..x..x...x..x.."),
    )
}
#: The concepts ``musictag concepts render`` makes unless told otherwise.
DEFAULT_CONCEPTS = (
    "drums",
    "distorted_guitar",
    "singing_voice",
    "bass_line",
    "piano",
    "strings",
    "brass",
    "swing_feel",
    "four_on_the_floor",
    "fast_tempo",
)


@dataclass
class Pair:
    """A concept clip, its matched clip, and the stems they were mixed from."""

    positive: np.ndarray
    matched: np.ndarray
    genre: str
    positive_arrangement: Arrangement
    matched_arrangement: Arrangement


def _overlay(arrangement: Arrangement, concept: Concept, rng: random.Random) -> Arrangement:
    """An arrangement holding only the concept's percussion pattern, on the host's beat grid."""
    step = 60.0 / arrangement.bpm / 4
    notes = [
        Note(
            "drums",
            concept.overlay,
            k * step + rng.gauss(0, 0.004) if k else 0.0,
            k * step + 0.15,
            88 + rng.randrange(-8, 9),
        )
        for k in range(int(arrangement.duration / step) + 1)
        if concept.pattern[k % 16] == "x"
    ]
    return replace(arrangement, notes=[n for n in notes if n.start < arrangement.duration])


def _half_tempo(arrangement: Arrangement) -> Arrangement:
    """The same notes at half the tempo (the clip keeps its length, so it holds half as much music)."""
    slow = [
        replace(n, start=2 * n.start, end=2 * n.end) for n in arrangement.notes if 2 * n.start < arrangement.duration
    ]
    return replace(arrangement, bpm=arrangement.bpm / 2, notes=slow)


def _arrangements(
    concept: Concept, genre: str, seed: int, duration: float, rng: random.Random
) -> tuple[Arrangement, Arrangement]:
    style = STYLES[genre]
    if concept.change == "swing":
        return (
            compose(genre, concept.prompt, seed, duration=duration, style=replace(style, swing=0.33)),
            compose(genre, concept.prompt, seed, duration=duration, style=replace(style, swing=0.0)),
        )
    if concept.change == "four_on_the_floor":
        groove = dict(rng.choice([g for g in style.drums if g]))
        other = rng.choice(_OTHER_KICKS)
        return tuple(
            compose(
                genre, concept.prompt, seed, duration=duration, style=replace(style, drums=[{**groove, KICK: kick}])
            )
            for kick in (_FOUR_ON_THE_FLOOR, other)
        )
    if concept.change == "fast_tempo":
        fast = compose(genre, concept.prompt, seed, duration=duration, style=replace(style, tempo={"fast": (168, 183)}))
        return fast, _half_tempo(fast)
    arrangement = compose(genre, concept.prompt, seed, duration=duration)
    return arrangement, arrangement


def host(concept: Concept, seed: int) -> tuple[random.Random, str]:
    """The random stream of ``concept``'s clip number ``seed`` and the host genre it draws first."""
    rng = random.Random(f"{concept.name}:{seed}")
    return rng, rng.choice(concept.hosts)


def render_pair(
    concept: Concept, seed: int, *, duration: float = 4.0, sample_rate: int = 16000, soundfont: Path | None = None
) -> Pair:
    """Render ``concept``'s clip number ``seed`` and its matched clip.

    Stem and overlay concepts mix both clips from the same stems through the same production chain
    and master gain, the concept's stem left out of the matched one; concepts that change a musical
    choice compose the clip twice from one seed with only that choice changed.
    """
    from musictag.synthesis.render import default_soundfont, effects, limit, master_gain, render_role, render_stems

    soundfont = soundfont or default_soundfont()
    rng, genre = host(concept, seed)
    with_it, without = _arrangements(concept, genre, seed, duration, rng)
    stems = render_stems(with_it, sample_rate=sample_rate, soundfont=soundfont, seed=seed)
    if concept.stem and concept.stem not in stems:
        raise ParameterError(f"concept {concept.name}: the {genre} arrangement of seed {seed} has no {concept.stem}")
    if concept.change:
        other = render_stems(without, sample_rate=sample_rate, soundfont=soundfont, seed=seed)
    else:
        other = {role: audio for role, audio in stems.items() if role != concept.stem}
        if concept.stem:
            stems = {**stems, concept.stem: _audible(stems[concept.stem], sum(other.values()))}
        if concept.overlay is not None:
            extra = render_role(_overlay(with_it, concept, rng), "drums", sample_rate, soundfont)
            stems = {**stems, "drums": stems.get("drums", 0) + _audible(extra, sum(stems.values()))}
    mixed, loudness = effects(stems, genre, sample_rate, np.random.default_rng(seed))
    matched, matched_loudness = effects(other, genre, sample_rate, np.random.default_rng(seed))
    # one master gain for both clips keeps every shared stem at the same level; a changed choice
    # (tempo, swing, kick) is a different performance, mastered on its own
    gain = master_gain(mixed, loudness)
    matched_gain = master_gain(matched, matched_loudness) if concept.change else gain
    return Pair(
        limit(mixed * gain, sample_rate),
        limit(matched * matched_gain, sample_rate),
        genre,
        with_it,
        without if concept.change else replace(with_it, notes=[n for n in with_it.notes if n.role != concept.stem]),
    )


def render_stem(
    concept: Concept, seed: int, *, duration: float, sample_rate: int = 16000, soundfont: Path | None = None
) -> np.ndarray:
    """The concept's stem of clip number ``seed`` alone, dry (mono float32, ``duration`` seconds): what
    :func:`render_pair` mixes in, for mixing into other (real) recordings."""
    from musictag.synthesis.render import default_soundfont, render_role

    if not concept.stem:
        raise ParameterError(f"concept {concept.name} changes a musical choice; it has no stem to mix in")
    rng, genre = host(concept, seed)
    arrangement, _ = _arrangements(concept, genre, seed, duration, rng)
    return render_role(arrangement, concept.stem, sample_rate, soundfont or default_soundfont())


def _audible(concept: np.ndarray, rest: np.ndarray | int) -> np.ndarray:
    """``concept`` raised to :data:`AUDIBLE_DB` against ``rest`` when it is quieter (never lowered)."""
    ratio_db = 10 * np.log10((np.mean(concept**2) + 1e-12) / (np.mean(np.square(rest)) + 1e-12))
    return concept * np.float32(10 ** (max(0.0, AUDIBLE_DB - ratio_db) / 20))


def render_random(
    seed: int, *, duration: float = 4.0, sample_rate: int = 16000, soundfont: Path | None = None
) -> np.ndarray:
    """A random clip: any genre, any stems (each kept with probability 0.7, at least one)."""
    from musictag.synthesis.render import produce, render_stems

    rng = random.Random(f"random:{seed}")
    genre = rng.choice(sorted(STYLES))
    stems = render_stems(
        compose(genre, "", seed, duration=duration), sample_rate=sample_rate, soundfont=soundfont, seed=seed
    )
    kept = {role: audio for role, audio in stems.items() if rng.random() < 0.7}
    if not kept:
        role = rng.choice(sorted(stems))
        kept = {role: stems[role]}
    return produce(kept, genre, sample_rate, np.random.default_rng(seed))


def _write(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        sf.write(tmp, audio, sample_rate, format="FLAC")


def render_bank(
    out: str | os.PathLike,
    *,
    concepts: list[str] | None = None,
    per_concept: int = 100,
    random_sets: int = 200,
    set_size: int = 5,
    inputs: int = 40,
    duration: float = 4.0,
    sample_rate: int = 16000,
    seed: int = 0,
    on_clip: Callable[[], None] | None = None,
) -> Path:
    """Render a concept bank into ``out`` (see the module docstring); clips already there are kept,
    so an interrupted run resumes. Returns the path of ``bank.json``."""
    from musictag.synthesis.render import default_soundfont, require_synthesizer, soundfont_note

    names = list(concepts or DEFAULT_CONCEPTS)
    unknown = [n for n in names if n not in CONCEPTS]
    if unknown:
        raise ParameterError(f"unknown concept {', '.join(unknown)}; known: {', '.join(CONCEPTS)}")
    if per_concept < 6 or random_sets < 16 or set_size < 2:
        raise ParameterError("a bank needs at least 6 clips per concept and 16 random sets of 2 or more clips")
    soundfont = default_soundfont()
    require_synthesizer(soundfont)
    out = Path(out)
    manifest: dict = {
        "sample_rate": sample_rate,
        "duration": duration,
        "seed": seed,
        "soundfont": str(soundfont),
        "concepts": {},
        "random_sets": [],
        "inputs": [],
    }
    for index, name in enumerate(names):
        concept, rows = CONCEPTS[name], []
        for k in range(per_concept):
            positive = out / name / "positive" / f"{name}_{k:03d}.flac"
            matched = out / name / "matched" / f"{name}_{k:03d}.flac"
            clip_seed = seed * 1_000_003 + index * 10_007 + k
            genre = host(concept, clip_seed)[1]
            if not (positive.exists() and matched.exists()):
                pair = render_pair(concept, clip_seed, duration=duration, sample_rate=sample_rate, soundfont=soundfont)
                _write(matched, pair.matched, sample_rate)
                _write(positive, pair.positive, sample_rate)
            rows.append(
                {
                    "positive": str(positive.relative_to(out)),
                    "matched": str(matched.relative_to(out)),
                    "genre": genre,
                    "seed": clip_seed,
                }
            )
            if on_clip:
                on_clip()
        manifest["concepts"][name] = {
            "description": concept.description,
            "stem": concept.stem,
            "change": concept.change,
            "clips": rows,
        }
    for s in range(random_sets):
        folder = out / "random" / f"random_{s:02d}"
        for k in range(set_size):
            _render_random_file(
                folder / f"random_{s:02d}_{k:03d}.flac",
                10_000_000 + seed * 100_003 + s * 1009 + k,
                duration,
                sample_rate,
                soundfont,
            )
            if on_clip:
                on_clip()
        manifest["random_sets"].append(str(folder.relative_to(out)))
    for k in range(inputs):
        path = out / "inputs" / f"input_{k:03d}.flac"
        _render_random_file(path, 20_000_000 + seed * 100_003 + k, duration, sample_rate, soundfont)
        manifest["inputs"].append(str(path.relative_to(out)))
        if on_clip:
            on_clip()
    manifest["note"] = soundfont_note(str(soundfont))
    with atomic_open(out / "bank.json") as handle:
        json.dump(manifest, handle, indent=1)
    return out / "bank.json"


def _render_random_file(path: Path, seed: int, duration: float, sample_rate: int, soundfont: Path) -> None:
    if not path.exists():
        _write(path, render_random(seed, duration=duration, sample_rate=sample_rate, soundfont=soundfont), sample_rate)


def bank_size(concepts: list[str] | None, per_concept: int, random_sets: int, set_size: int, inputs: int) -> int:
    """How many clips (or pairs) :func:`render_bank` makes: its progress bar's length."""
    return len(concepts or DEFAULT_CONCEPTS) * per_concept + random_sets * set_size + inputs


def audio_files(folder: Path) -> list[Path]:
    """The audio files directly in ``folder`` (or in its ``positive`` subfolder), sorted, by the folder
    walker's rule (audio extensions, no hidden files)."""
    from musictag.audio.discover import find_audio

    if (folder / "positive").is_dir():
        folder = folder / "positive"
    if not folder.is_dir():
        raise ParameterError(f"{folder}: folder not found")
    return [Path(p) for p in find_audio([folder])]


@dataclass
class Bank:
    """A concept folder as read back: clips per concept, matched clips where there are any, random
    sets and input clips."""

    concepts: dict[str, list[Path]]
    matched: dict[str, list[Path]]
    randoms: list[list[Path]]
    inputs: list[Path]


def read_bank(root: str | os.PathLike) -> Bank:
    """A bank folder, or a user's folder of concept folders (random sets under ``random/``, inputs under
    ``inputs/``)."""
    root = Path(root)
    if not root.is_dir():
        raise ParameterError(f"{root}: concept folder not found")
    folders = [p for p in sorted(root.iterdir()) if p.is_dir() and p.name not in ("random", "inputs")]
    concepts = {p.name: audio_files(p) for p in folders}
    empty = [name for name, files in concepts.items() if not files]
    if empty:
        raise ParameterError(f"{root / empty[0]}: concept folder has no audio files")
    matched = {p.name: audio_files(p / "matched") for p in folders if (p / "matched").is_dir()}
    randoms = random_sets(root / "random") if (root / "random").is_dir() else []
    inputs = audio_files(root / "inputs") if (root / "inputs").is_dir() else []
    return Bank(concepts, {k: v for k, v in matched.items() if v}, randoms, inputs)


def random_sets(folder: str | os.PathLike) -> list[list[Path]]:
    """The random sets in ``folder``: its subfolders of audio (a bank folder: those under ``random/``)."""
    folder = Path(folder)
    if (folder / "random").is_dir():
        folder = folder / "random"
    if not folder.is_dir():
        raise ParameterError(f"{folder}: random-set folder not found")
    return [files for p in sorted(folder.iterdir()) if p.is_dir() and (files := audio_files(p))]
