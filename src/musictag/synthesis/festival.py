"""A recorded human voice for the composer's voice role: the Festival speech synthesiser.

The formant singer of :mod:`musictag.synthesis.voice` reads as electronic to the taggers. Festival
(Debian: ``festival``, ``festvox-kallpc16k``, ``festvox-us-slt-hts``) speaks and sings with voices
built from recordings of people:

- a **sung** line goes through Festival's singing mode (an XML score: each voice note's pitch and
  length in beats, one word per note, rests between phrases) with the ``kal`` diphone voice;
- a **rapped** line is spoken, a phrase at a time (notes closer than :data:`PHRASE_GAP`), by the
  ``slt`` voice (female singers) or ``kal`` (male), then time-stretched to the phrase's length and
  moved to the phrase's mean pitch with pedalboard's stretcher (formants kept).

Every call runs ``text2wave`` in a temporary folder; :func:`available` says whether it is installed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from musictag.errors import MusictagError

PHRASE_GAP = 0.35  # seconds of silence between two voice notes that start a new phrase
WORDS = (
    "love night home heart light day baby road rain fire time down town soul gold dream "
    "run high low free way sky true blue stay feel shine ride move hold fall rise"
).split()
_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_VOICES = {"male": "voice_kal_diphone", "female": "voice_cmu_us_slt_arctic_hts"}


def available() -> bool:
    """Whether Festival's ``text2wave`` is installed."""
    return shutil.which("text2wave") is not None


def _text2wave(arguments: list[str], text: str, sample_rate: int) -> np.ndarray:
    """Run ``text2wave`` on ``text`` and return its audio as mono float32 at ``sample_rate``."""
    import soundfile as sf

    from musictag.audio.arrays import AudioArray, resampled

    with tempfile.TemporaryDirectory(prefix="musictag-festival-") as folder:
        source, target = Path(folder) / "in.txt", Path(folder) / "out.wav"
        source.write_text(text, encoding="utf-8")
        done = subprocess.run(
            ["text2wave", *arguments, str(source), "-o", str(target)], capture_output=True, text=True, timeout=120
        )
        if done.returncode or not target.is_file():
            raise MusictagError(f"festival failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
        audio, rate = sf.read(target, dtype="float32", always_2d=True)
    return resampled(AudioArray(audio.mean(axis=1), rate), sample_rate)


def _phrases(notes: list) -> list[list]:
    """Voice notes grouped into phrases: a gap over :data:`PHRASE_GAP` starts a new one."""
    phrases: list[list] = []
    for note in sorted(notes, key=lambda n: n.start):
        if phrases and note.start - phrases[-1][-1].end <= PHRASE_GAP:
            phrases[-1].append(note)
        else:
            phrases.append([note])
    return phrases


def sing(notes: list, bpm: float, duration: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """``notes`` sung by Festival's singing mode, one word each, placed from the first note on."""
    out = np.zeros(round(duration * sample_rate), np.float32)
    if not notes:
        return out
    beat = 60.0 / bpm
    parts, previous = [], None
    for note in sorted(notes, key=lambda n: n.start):
        if previous is not None and note.start - previous > 0.01:
            parts.append(f'<REST BEATS="{(note.start - previous) / beat:.3f}"></REST>')
        name = f"{_NAMES[int(note.pitch) % 12]}{int(note.pitch) // 12 - 1}"
        word = WORDS[int(rng.integers(len(WORDS)))]
        beats = (note.end - note.start) / beat
        parts.append(f'<PITCH NOTE="{name}"><DURATION BEATS="{beats:.3f}">{word}</DURATION></PITCH>')
        previous = note.end
    score = (
        '<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
        f'"Singing.v0_1.dtd" []>\n<SINGING BPM="{bpm:.2f}">\n' + "\n".join(parts) + "\n</SINGING>\n"
    )
    sung = _text2wave(["-mode", "singing"], score, sample_rate)
    start = round(min(n.start for n in notes) * sample_rate)
    sung = sung[: len(out) - start]
    out[start : start + len(sung)] = sung
    return out


def rap(notes: list, singer: str, duration: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """``notes`` rapped: each phrase spoken (a word per note), stretched to the phrase and pitched to its
    mean note."""
    from pedalboard import time_stretch

    out = np.zeros(round(duration * sample_rate), np.float32)
    voice = _VOICES.get(singer, _VOICES["male"])
    for phrase in _phrases(notes):
        words = " ".join(WORDS[int(rng.integers(len(WORDS)))] for _ in phrase)
        spoken = _text2wave(["-eval", f"({voice})"], words, sample_rate)
        spoken = _trimmed(spoken)
        start, end = phrase[0].start, phrase[-1].end
        if len(spoken) < sample_rate // 20 or end <= start:
            continue
        factor = len(spoken) / sample_rate / (end - start)
        shift = float(np.mean([n.pitch for n in phrase])) - (57.0 if singer == "female" else 48.0)
        stretched = time_stretch(
            spoken[None, :], sample_rate, stretch_factor=factor, pitch_shift_in_semitones=float(np.clip(shift, -7, 7))
        )[0]
        at = round(start * sample_rate)
        stretched = stretched[: len(out) - at]
        out[at : at + len(stretched)] += stretched.astype(np.float32)
    return out


def _trimmed(audio: np.ndarray, floor: float = 0.01) -> np.ndarray:
    """``audio`` without its leading and trailing near-silence."""
    loud = np.flatnonzero(np.abs(audio) > floor * (np.abs(audio).max() + 1e-12))
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio[:0]
