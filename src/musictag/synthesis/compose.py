"""Compose an arrangement from a prompt: form, chords, bass, accompaniment, melody and drums.

The prompt is read for its genre style, the instruments it names, its tempo words, its mood
(which picks major or minor) and whether it is sung, rapped or instrumental (otherwise the
style's chance of a voice decides); everything else is drawn from the clip's seed, so a clip
is reproducible from (prompt, seed). Timing and velocity are humanised; off-beat eighths are
delayed by the style's swing.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from musictag.errors import ParameterError
from musictag.synthesis.styles import CRASH, INSTRUMENT_WORDS, SCALES, SNARE, STYLES, Style
from musictag.synthesis.vocabulary import MOODS, TEMPOS

if TYPE_CHECKING:
    import pretty_midi

ROLES = ("bass", "comp", "lead", "drums", "voice")  # "voice": the formant singer of voice.py
_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_RAP = re.compile(r"\b(rap|rapped|rapping|rapper|rappers|mc|rhymes)\b")
_SUNG = re.compile(r"\b(vocals?|vocalists?|voices?|singers?|sung|singing|sings|sing-along|scatting|crooning|crooner)\b")
_NUMERAL = re.compile(r"^(b|#)?(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)(maj7|7|5)?$")


@dataclass
class Note:
    """One note of an arrangement: its part, pitch, start, length and loudness."""

    role: str
    pitch: int
    start: float  # seconds
    end: float
    velocity: int


@dataclass
class Arrangement:
    """A composed clip: its musical choices and every note."""

    genre: str
    bpm: float
    key: int  # pitch class of the tonic
    mode: str  # major | minor
    programs: dict[str, int]
    notes: list[Note] = field(default_factory=list)
    duration: float = 10.0
    vocal: str = ""  # "" (instrumental) | sung | rap
    singer: str = "male"  # male | female


def chord_pitches(numeral: str, key: int, voicing: str) -> tuple[int, list[int]]:
    """Root pitch class and the chord's intervals above the root for a roman numeral."""
    match = _NUMERAL.match(numeral)
    if not match:
        raise ParameterError(f"cannot read chord {numeral!r}")
    accidental, degree, suffix = match.groups()
    root = (key + _DEGREES[degree.upper()] + {"b": -1, "#": 1, None: 0}[accidental]) % 12
    minor = degree.islower()
    if suffix == "5" or voicing == "power":
        return root, [0, 7, 12]
    third = 3 if minor else 4
    intervals = [0, third, 7]
    if suffix == "maj7":
        intervals.append(11)
    elif suffix == "7" or voicing in ("seventh", "ninth"):
        intervals.append(10 if (minor or suffix == "7") else 11)
    if voicing == "ninth":
        intervals.append(14)
    return root, intervals


def _words(prompt: str, table: dict[str, list[str]]) -> str | None:
    text = prompt.lower()
    for name, words in table.items():
        if any(re.search(rf"\b{re.escape(w)}\b", text) for w in words):
            return name
    return None


def _named_programs(prompt: str) -> dict[str, int]:
    """The program of each role whose instrument the prompt names: the instrument named first wins
    ("a harmonica and a slide guitar": the harmonica leads); where two entries match at one place,
    the more specific one, listed first in ``INSTRUMENT_WORDS`` ("synth pad" before "synth")."""
    text, chosen = prompt.lower(), {}
    matches = sorted(
        (text.find(words), order, role, program)
        for order, (words, role, program) in enumerate(INSTRUMENT_WORDS)
        if words in text
    )
    for _, _, role, program in matches:
        chosen.setdefault(role, program)
    return chosen


def _programs(prompt: str, style: Style, rng: random.Random) -> dict[str, int]:
    chosen = _named_programs(prompt)
    for role in ROLES:
        if role != "voice":  # sung by voice.py, not a SoundFont program
            chosen.setdefault(role, rng.choice(style.programs.get(role, [0])))
    chosen["voice"] = 54  # General MIDI "synth voice", for the MIDI file only
    return chosen


def _vocal(prompt: str, style: Style, rng: random.Random) -> str:
    """Sung, rapped or instrumental: what the prompt says, else the style's chance of its voice."""
    text = prompt.lower()
    if "instrumental" in text:
        return ""
    if _RAP.search(text):
        return "rap"
    if _SUNG.search(text):
        return "sung" if style.vocal != "rap" or rng.random() < 0.2 else "rap"
    return style.vocal if rng.random() < style.vocal_chance else ""


class _Writer:
    """Places notes on a beat grid, applying swing, humanisation and the tempo."""

    def __init__(self, arrangement: Arrangement, swing: float, rng: random.Random, loudness: int):
        self.a, self.swing, self.rng, self.loudness = arrangement, swing, rng, loudness

    def seconds(self, beat: float) -> float:
        whole, frac = divmod(beat, 1.0)
        split = 0.5 + self.swing / 2  # where the off-beat eighth lands
        frac = frac / 0.5 * split if frac < 0.5 else split + (frac - 0.5) / 0.5 * (1 - split)
        return (whole + frac) * 60.0 / self.a.bpm

    def note(self, role: str, pitch: int, beat: float, length: float, velocity: int) -> None:
        jitter = self.rng.gauss(0, 0.006)
        start = max(0.0, self.seconds(beat) + jitter)
        end = max(start + 0.03, self.seconds(beat + length) + jitter - 0.01)
        velocity = max(1, min(127, velocity + self.loudness + round(self.rng.gauss(0, 6))))
        self.a.notes.append(Note(role, int(pitch), start, end, velocity))


def _bass(w: _Writer, pattern: str, bar: int, root: int, intervals: list[int], next_root: int) -> None:
    base = 36 + (root - 36) % 12  # E1..D#2 region
    b0 = bar * 4
    fifth = base + 7
    if pattern == "root8":
        for k in range(8):
            w.note("bass", base, b0 + k / 2, 0.45, 96 if k % 2 == 0 else 84)
    elif pattern == "rootfifth":
        for k, p in enumerate((base, fifth, base, fifth)):
            w.note("bass", p if k % 2 == 0 else p - 12, b0 + k, 0.9, 96)
    elif pattern == "walking":
        approach = base + (next_root - root) % 12 + (-1 if w.rng.random() < 0.5 else 1)  # a step into the next root
        steps = [base, base + intervals[1], base + 7, approach]
        for k, p in enumerate(steps):
            w.note("bass", p, b0 + k, 0.95, 92 if k % 2 == 0 else 84)
    elif pattern == "octave":
        for k in range(8):
            w.note("bass", base + (12 if k % 2 else 0), b0 + k / 2, 0.4, 100)
    elif pattern == "dub":
        w.note("bass", base, b0, 1.4, 104)
        w.note("bass", base + 7, b0 + 1.5, 0.5, 90)
        w.note("bass", base + 12 if w.rng.random() < 0.5 else base + intervals[1], b0 + 2.5, 0.9, 94)
    elif pattern == "pedal":
        w.note("bass", base, b0, 3.9, 80)
    elif pattern == "syncopated":
        for beat, length in ((0, 0.7), (0.75, 0.5), (2.5, 1.0)):
            w.note("bass", base, b0 + beat, length, 104)


def _voicing(root: int, intervals: list[int], low: int) -> list[int]:
    base = low + (root - low) % 12
    return [base + i for i in intervals]


def _comp(w: _Writer, pattern: str, bar: int, root: int, intervals: list[int]) -> None:
    chord, b0 = _voicing(root, intervals, 52), bar * 4
    if pattern == "strum":
        for beat, vel in ((0, 92), (1, 70), (1.5, 76), (2.5, 72), (3, 84), (3.5, 70)):
            for k, p in enumerate(chord):
                w.note("comp", p, b0 + beat + 0.012 * k, 0.45, vel)
    elif pattern == "power":
        for k in range(8):
            for p in chord:
                w.note("comp", p - 12, b0 + k / 2, 0.35, 100 if k % 2 == 0 else 88)
    elif pattern == "skank":
        for beat in (1, 3) if w.rng.random() < 0.5 else (0.5, 1.5, 2.5, 3.5):
            for p in chord:
                w.note("comp", p + 12, b0 + beat, 0.22, 88)
    elif pattern == "stabs":
        for beat in (0.5, 1.5, 2.5, 3.5):
            for p in chord:
                w.note("comp", p + 12, b0 + beat, 0.2, 90)
    elif pattern == "arpeggio":
        order = chord + [chord[1] + 12, chord[2] + 12] if len(chord) < 4 else chord + [chord[0] + 12]
        for k in range(8):
            w.note("comp", order[k % len(order)], b0 + k / 2, 0.6, 72 + (10 if k % 4 == 0 else 0))
    elif pattern == "sustain":
        for p in chord:
            w.note("comp", p, b0, 3.9, 70)
    elif pattern == "chops":
        for beat, length in ((0, 1.5), (2.5, 1.0)):
            for p in chord:
                w.note("comp", p + 12, b0 + beat, length, 74)
    elif pattern == "comping":
        beats = w.rng.choice([(0, 2.5), (1.5, 3.5), (0.5, 2), (1, 3)])
        for beat in beats:
            for p in chord[1:]:
                w.note("comp", p + 12, b0 + beat, 0.6, 70)


def _melody(
    w: _Writer,
    style: Style,
    mode: str,
    key: int,
    bars: list[tuple[int, list[int]]],
    rng: random.Random,
    *,
    role: str = "lead",
    low: int = 60,
    answer: str | None = None,
) -> None:
    """A melody for ``role`` from ``low`` up; with ``answer``, that role plays the second half of every
    four-bar phrase, moved by whole octaves to start near middle C (call and response)."""
    scale = SCALES[style.scale[mode]]
    answer_shift = 12 * round((60 - low) / 12)
    pitches = [low + (key - low) % 12 + o * 12 + s for o in (0, 1) for s in scale]
    rhythm = [k / 2 for k in range(8) if rng.random() < style.melody_density] or [0.0]
    index = rng.randrange(len(pitches) // 3, len(pitches) // 3 * 2)
    for bar, (root, intervals) in enumerate(bars):
        if bar % 4 == 3 and rng.random() < 0.5:  # breathe at phrase ends
            continue
        tones = {(root + i) % 12 for i in intervals}
        for n, beat in enumerate(rhythm):
            index = max(0, min(len(pitches) - 1, index + rng.choice((-2, -1, -1, 0, 1, 1, 2))))
            if beat % 2 == 0:  # strong beats prefer chord tones
                near = [i for i in range(len(pitches)) if pitches[i] % 12 in tones]
                if near:
                    index = min(near, key=lambda i: abs(i - index))
            length = (rhythm[n + 1] if n + 1 < len(rhythm) else 4) - beat
            answering = answer is not None and bar % 4 >= 2
            player, pitch = (answer, pitches[index] + answer_shift) if answering else (role, pitches[index])
            w.note(player, pitch, bar * 4 + beat, max(0.25, length * 0.9), 88 if beat % 1 == 0 else 78)


def _rap(w: _Writer, n_bars: int, low: int, rng: random.Random) -> None:
    """A rap flow: syllables on sixteenths around a speaking pitch, accents on the beats, a breath
    at the end of every second bar, and each line falling towards its end."""
    density = rng.uniform(0.5, 0.85)
    for bar in range(n_bars):
        for step in range(16):
            if bar % 2 == 1 and step >= 12 or rng.random() > density:
                continue
            accent = step % 4 == 0
            fall = -3 * ((bar % 2) * 16 + step) / 32  # declination over the two-bar line
            pitch = low + round(rng.gauss(0, 1.2) + (2 if accent else 0) + fall)
            w.note("voice", pitch, bar * 4 + step / 4, 0.2, 100 if accent else 84)


def _drums(w: _Writer, groove: dict[int, str], bar: int, section_start: bool, fill: bool) -> None:
    for key, steps in groove.items():
        for k, mark in enumerate(steps):
            if fill and k >= 12 and key != CRASH:
                continue
            if mark != ".":
                w.note("drums", key, bar * 4 + k / 4, 0.2, 100 if mark == "x" else 55)
    if fill:
        for k in range(12, 16):
            w.note("drums", SNARE, bar * 4 + k / 4, 0.2, 70 + 8 * (k - 12))
    if section_start and bar > 0:
        w.note("drums", CRASH, bar * 4, 1.0, 100)


def compose(genre: str, prompt: str, seed: int, *, duration: float = 10.0, style: Style | None = None) -> Arrangement:
    """Compose ``duration`` seconds of ``genre`` following ``prompt``, reproducibly from ``seed``; ``style``
    replaces the genre's (a concept bank changes one of its choices, such as the swing, and nothing else)."""
    if genre not in STYLES:
        raise ParameterError(f"no procedural style for genre {genre!r}; known: {', '.join(sorted(STYLES))}")
    style, rng = style or STYLES[genre], random.Random(seed)
    mood = _words(prompt, MOODS) or rng.choice(list(MOODS))
    tempo = _words(prompt, TEMPOS) or rng.choice([t for t in style.tempo])
    low, high = style.tempo.get(tempo) or style.tempo[rng.choice(list(style.tempo))]
    mode = "minor" if mood in style.minor_moods else "major"
    arrangement = Arrangement(
        genre,
        float(rng.randint(low, high)),
        rng.randrange(12),
        mode,
        _programs(prompt, style, rng),
        duration=duration,
        vocal=_vocal(prompt, style, rng),
        singer=rng.choice(style.singers),
    )
    loudness = {"intense": 12, "calm": -14, "sad": -8}.get(mood, 0)
    writer = _Writer(arrangement, style.swing, rng, loudness)
    fitting = [p for p in style.progressions if p[0][0].islower() == (mode == "minor") or p[0].endswith("5")]
    verse, chorus = rng.choice(fitting or style.progressions), rng.choice(fitting or style.progressions)
    n_bars = int(duration * arrangement.bpm / 240) + 2
    start_bar = rng.choice((0, 0, 4))  # sometimes start inside the form
    chords = []
    for bar in range(start_bar, start_bar + n_bars):
        numeral = (verse if (bar // 4) % 2 == 0 else chorus)[bar % 4]
        chords.append(chord_pitches(numeral, arrangement.key, style.voicing))
    grooves = [g for g in style.drums if g]
    groove = rng.choice(grooves) if grooves else {}
    for bar, (root, intervals) in enumerate(chords):
        next_root = chords[bar + 1][0] if bar + 1 < len(chords) else root
        _bass(writer, style.bass, bar, root, intervals, next_root)
        _comp(writer, style.comp, bar, root, intervals)
        if groove:
            absolute = start_bar + bar
            _drums(writer, groove, bar, absolute % 4 == 0, absolute % 4 == 3 and rng.random() < 0.5)
    female = arrangement.singer == "female"
    if arrangement.vocal == "sung":  # the singer takes the melody, in their range; a lead the prompt names answers
        answer = "lead" if "lead" in _named_programs(prompt) else None
        _melody(
            writer, style, mode, arrangement.key, chords, rng, role="voice", low=57 if female else 48, answer=answer
        )
    else:
        _melody(writer, style, mode, arrangement.key, chords, rng)
    if arrangement.vocal == "rap":
        _rap(writer, len(chords), 55 if female else 45, rng)
    arrangement.notes = [n for n in arrangement.notes if n.start < duration]
    return arrangement


def to_midi(arrangement: Arrangement) -> pretty_midi.PrettyMIDI:
    """The arrangement as a ``pretty_midi.PrettyMIDI`` (drums on the General MIDI percussion channel)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=arrangement.bpm)
    for role in ROLES:
        program = arrangement.programs.get(role, 0)  # for drums: the kit
        track = pretty_midi.Instrument(program=program, is_drum=role == "drums", name=role)
        notes = [n for n in arrangement.notes if n.role == role]
        track.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
        midi.instruments.append(track)
    return midi
