"""Global tempo of a recording: the autocorrelation of an onset envelope, weighted by a tempo prior.

The method of Ellis (2007) as librosa's ``feature.tempo`` has it: a log-magnitude spectral flux, its
autocorrelation over lags of 30-300 BPM, weighted by a log-normal prior around 120 BPM (one octave wide),
the best lag refined by parabolic interpolation. Only numpy: librosa's first call costs seconds of
just-in-time compilation (see :mod:`musictag.describe.key`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musictag.describe.key import RATE, at_analysis_rate, frames_of

FRAME = 512
HOP = 128  # 16 ms at 8 kHz: 62.5 onset frames a second
_RANGE = (30.0, 300.0)  # BPM
_PRIOR = (120.0, 1.0)  # BPM, octaves
MIN_SECONDS = 5.0
_COMB = (0.5, 1, 2, 4)  # the multiples of a beat's lag that count for it: its subdivision, two beats, the bar
_MIN_ONSETS = 0.005  # the onset envelope's spread under which nothing starts (held tones: 1e-4; gtzan_mini 0.024 up)
_MIN_CONFIDENCE = 0.1  # below: "unknown" (no periodic onsets: noise, held tones, speech)


@dataclass(frozen=True)
class Tempo:
    """A global tempo: ``bpm`` (None where unknown) and the confidence in [0, 1]."""

    bpm: float | None
    confidence: float

    def __str__(self) -> str:
        return f"{self.bpm:.1f} BPM" if self.bpm else "unknown"


def onset_strength(frames: np.ndarray, previous: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The onset strength of each of ``frames`` ``(n, FRAME)`` (the positive log-magnitude flux, mean over
    bins) and the last frame's log magnitude, to pass as ``previous`` with the next frames of a stream."""
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(FRAME).astype(np.float32), axis=1))
    level = np.log1p(100.0 * spectrum)
    if previous is not None:
        level = np.concatenate([previous[None], level])
    return np.maximum(np.diff(level, axis=0), 0.0).mean(axis=1), level[-1]


def estimate_tempo(samples: np.ndarray, sample_rate: int) -> Tempo:
    """The global tempo of mono ``samples``.

    Parameters
    ----------
    samples : np.ndarray
        Mono audio, float.
    sample_rate : int
        Its rate in Hz (any: resampled to 8 kHz).

    Returns
    -------
    Tempo
        ``unknown`` (``bpm`` None) for clips under 5 s and where onsets do not repeat; the confidence is
        the onset envelope's normalised autocorrelation at the chosen lag (0-1).
    """
    frames = frames_of(at_analysis_rate(samples, sample_rate), FRAME, HOP)
    envelope = onset_strength(frames)[0] if len(frames) else np.zeros(0)
    return tempo_of_envelope(envelope, RATE / HOP, seconds=len(samples) / sample_rate)


def tempo_of_envelope(envelope: np.ndarray, rate: float, *, seconds: float) -> Tempo:
    """The tempo of an onset envelope at ``rate`` frames a second of ``seconds`` of audio, unknown under
    :data:`MIN_SECONDS` (see :func:`estimate_tempo`)."""
    if seconds < MIN_SECONDS:
        return Tempo(None, 0.0)
    window = max(1, int(rate))  # subtract a 1-s moving average: only the onsets' rise and fall remain
    envelope = envelope - np.convolve(envelope, np.ones(window) / window, mode="same")
    if not len(envelope) or envelope.std() < _MIN_ONSETS:
        return Tempo(None, 0.0)
    size = 1 << int(np.ceil(np.log2(2 * len(envelope))))
    power = np.abs(np.fft.rfft(envelope, size)) ** 2
    acf = np.fft.irfft(power, size)[: len(envelope)]
    if acf[0] <= 0:
        return Tempo(None, 0.0)
    acf = acf / acf[0]
    lags = np.arange(len(acf), dtype=float)
    low, high = max(1, int(np.floor(60 * rate / _RANGE[1]))), int(np.ceil(60 * rate / _RANGE[0]))
    high = min(high, len(acf) - 2)
    if high <= low:
        return Tempo(None, 0.0)
    candidates = lags[low : high + 1]
    bpm = 60 * rate / candidates
    prior = np.exp(-0.5 * (np.log2(bpm / _PRIOR[0]) / _PRIOR[1]) ** 2)
    positive = np.maximum(acf, 0)
    # a beat's period is halved by its subdivisions and recurs at two and four beats (the bar): the
    # comb favours it over a swung off-beat or a dotted beat, whose halves and multiples miss the grid
    comb = sum(np.interp(candidates * m, lags, positive) / max(m, 1) for m in _COMB)
    best = low + int(np.argmax(comb * prior))
    confidence = float(np.clip(acf[best], 0.0, 1.0))
    if confidence < _MIN_CONFIDENCE:
        return Tempo(None, confidence)
    before, at, after = acf[best - 1], acf[best], acf[best + 1]
    curvature = before - 2 * at + after
    shift = 0.5 * (before - after) / curvature if curvature < 0 else 0.0
    return Tempo(float(60 * rate / (best + np.clip(shift, -0.5, 0.5))), confidence)
