"""A singing and rapping voice: a source-filter (formant) synthesizer.

General MIDI has no singer, yet a voice leads most real recordings of most genres, and a rap
voice is what hip-hop sounds like. Each syllable is a consonant onset and a vowel. The
source is a band-limited sawtooth on the pitch track, with breath noise mixed in. The pitch
track glides between notes, has vibrato on held notes, and drifts slowly. It passes through a
cascade of four formant resonators per vowel (Klatt's design). The vowels cross-fade as
the syllables change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

# formant frequencies (Hz) of adult male vowels (Peterson & Barney); a female voice scales them by 1.17
VOWELS = {
    "a": (730, 1090, 2440, 3400),
    "e": (530, 1840, 2480, 3500),
    "i": (270, 2290, 3010, 3700),
    "o": (570, 840, 2410, 3400),
    "u": (300, 870, 2240, 3300),
}
_BANDWIDTHS = (80, 100, 140, 180)
CONSONANTS = ("", "s", "t", "m")  # none, fricative, plosive, nasal


@dataclass(frozen=True)
class Syllable:
    """One sung syllable: when it starts, how long it lasts, its pitch and vowel."""

    start: float  # seconds
    end: float
    pitch: float  # MIDI note number
    velocity: int
    vowel: str  # a key of VOWELS
    consonant: str  # one of CONSONANTS


def _one_pole(x: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    """Smooth ``x`` with a time constant of ``seconds`` (glides, coarticulation)."""
    pole = float(np.exp(-1.0 / max(1.0, seconds * sample_rate)))
    return signal.lfilter([1 - pole], [1, -pole], x, zi=[x[0] * pole])[0]


def _formant_sections(formants: tuple[float, ...], sample_rate: int) -> np.ndarray:
    """Klatt's cascade of two-pole resonators, each of unit gain at 0 Hz, as second-order sections."""
    sections = []
    for frequency, bandwidth in zip(formants, _BANDWIDTHS, strict=True):
        c = -np.exp(-2 * np.pi * bandwidth / sample_rate)
        b = 2 * np.exp(-np.pi * bandwidth / sample_rate) * np.cos(2 * np.pi * frequency / sample_rate)
        sections.append([1 - b - c, 0, 0, 1, -b, -c])
    return np.array(sections)


def _sawtooth(f0: np.ndarray, sample_rate: int) -> np.ndarray:
    """A sawtooth on the pitch track ``f0`` (Hz per sample), its steps smoothed by polyBLEP."""
    step = f0 / sample_rate
    phase = np.cumsum(step) % 1.0
    saw = 2 * phase - 1
    dt = np.maximum(step, 1e-6)
    after = phase < dt  # just past a wrap
    t = phase[after] / dt[after]
    saw[after] -= t + t - t * t - 1
    before = phase > 1 - dt  # just before one
    t = (phase[before] - 1) / dt[before]
    saw[before] -= t * t + t + t + 1
    return saw


def synthesize_voice(
    syllables: list[Syllable],
    duration: float,
    sample_rate: int,
    *,
    female: bool = False,
    vibrato: float = 0.3,
    glide: float = 0.04,
    seed: int = 0,
) -> np.ndarray:
    """The syllables sung (or spoken, with ``vibrato=0`` and short ``glide``) as mono float32 audio.

    ``vibrato`` is its depth in semitones on held notes; ``glide`` the time constant (s) of the
    pitch between syllables.
    """
    rng = np.random.default_rng(seed)
    n = round(duration * sample_rate)
    if not syllables or n == 0:
        return np.zeros(n, np.float32)
    t = np.arange(n) / sample_rate
    pitch = np.full(n, syllables[0].pitch, dtype=np.float64)
    loudness = np.zeros(n)
    since_onset = np.zeros(n)
    weights = {v: np.zeros(n) for v in VOWELS}
    noise = rng.standard_normal(n)
    hiss, burst = np.zeros(n), np.zeros(n)
    for s in syllables:
        a, b = round(s.start * sample_rate), min(n, round(s.end * sample_rate))
        if b <= a:
            continue
        pitch[a:] = s.pitch  # holds into the following rest: no jump at the next onset
        since_onset[a:b] = t[a:b] - t[a]
        length = b - a
        ramp = np.minimum(
            1.0,
            np.minimum(np.arange(length) / (0.015 * sample_rate), (length - np.arange(length)) / (0.04 * sample_rate)),
        )
        loudness[a:b] = np.maximum(loudness[a:b], ramp * (s.velocity / 127) ** 1.5)
        weights[s.vowel][a:b] = 1.0
        if s.consonant == "s":  # a hiss leading into the vowel
            c = max(0, a - round(0.07 * sample_rate))
            hiss[c : a + round(0.01 * sample_rate)] = 0.25 * s.velocity / 127
        elif s.consonant == "t":  # closure, then a short burst
            closure = round(0.02 * sample_rate)
            loudness[a : a + closure] = 0.0
            burst[a + closure : a + closure + round(0.012 * sample_rate)] = 0.5 * s.velocity / 127
        elif s.consonant == "m":  # a hummed onset: quieter and darker
            loudness[a : a + round(0.05 * sample_rate)] *= 0.35
    pitch = _one_pole(pitch, glide, sample_rate)
    depth = vibrato * np.clip((since_onset - 0.15) / 0.25, 0, 1)  # grows on held notes only
    rate = 5.0 + rng.random() * 1.5
    drift = _one_pole(rng.standard_normal(n), 0.3, sample_rate) * 2.0  # a few cents of wander
    f0 = 440.0 * 2 ** ((pitch + depth * np.sin(2 * np.pi * rate * t) + 0.1 * drift - 69) / 12)
    loudness = _one_pole(loudness, 0.006, sample_rate)
    source = _sawtooth(f0, sample_rate) + 0.08 * noise  # breath
    source = _one_pole(source, 1 / (2 * np.pi * 1200), sample_rate) * loudness  # the glottal roll-off
    scale = 1.17 if female else 1.0
    out = np.zeros(n)
    total = np.zeros(n)
    for vowel, formants in VOWELS.items():
        weight = _one_pole(weights[vowel], 0.025, sample_rate)
        if not weight.any():
            continue
        out += weight * signal.sosfilt(_formant_sections(tuple(f * scale for f in formants), sample_rate), source)
        total += weight
    out = out / np.maximum(total, 1e-3) * (total > 1e-3)
    sos = signal.butter(4, [2500, 8000], "bandpass", fs=sample_rate, output="sos") if sample_rate > 16500 else None
    consonants = noise * (hiss + _one_pole(burst, 0.004, sample_rate))
    out += signal.sosfilt(sos, consonants) if sos is not None else consonants
    peak = float(np.abs(out).max())
    return (out / peak if peak > 0 else out).astype(np.float32)
