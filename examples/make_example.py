"""Synthesise examples/example.flac: 12 s of a drum groove, bass line and chords.

Made with numpy alone so the repository ships no third-party audio:
    python examples/make_example.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
BPM = 110
BEAT = 60 / BPM


def _env(n: int, decay: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (decay * SR))


def kick(n: int) -> np.ndarray:
    t = np.arange(n) / SR
    return np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * _env(n, 0.15)


def snare(n: int, rng: np.random.Generator) -> np.ndarray:
    return (0.6 * rng.standard_normal(n) + 0.4 * np.sin(2 * np.pi * 190 * np.arange(n) / SR)) * _env(n, 0.08)


def hat(n: int, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(n)
    return np.diff(noise, prepend=0) * _env(n, 0.02)  # differencing tilts the noise towards high frequencies


def tone(freq: float, n: int, decay: float, harmonics: int = 6) -> np.ndarray:
    t = np.arange(n) / SR
    wave = sum(np.sin(2 * np.pi * freq * h * t) / h**1.5 for h in range(1, harmonics + 1))
    return wave * _env(n, decay) * np.minimum(1, np.arange(n) / (0.005 * SR))


def main(out: Path = Path(__file__).with_name("example.flac"), seconds: float = 12.0) -> None:
    rng = np.random.default_rng(7)
    mix = np.zeros(int((seconds + 4 * BEAT) * SR) + SR)  # room for the last notes to ring
    step = BEAT / 2  # eighth notes
    chords = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)]  # Am F C G
    for i in range(int(seconds / step)):
        start = int(i * step * SR)
        beat = i % 8
        if beat in (0, 3, 4):
            mix[start : start + SR // 2] += 0.9 * kick(SR // 2)
        if beat in (2, 6):
            mix[start : start + SR // 4] += 0.5 * snare(SR // 4, rng)
        mix[start : start + SR // 8] += 0.15 * hat(SR // 8, rng)
        chord = chords[(i // 8) % len(chords)]
        if beat % 2 == 0:
            bass = 440 * 2 ** ((chord[0] - 24 - 69) / 12)
            mix[start : start + int(step * SR)] += 0.35 * tone(bass, int(step * SR), 0.3, harmonics=3)
        if beat == 0:
            n = int(4 * BEAT * SR)
            for note in chord:
                mix[start : start + n] += 0.12 * tone(440 * 2 ** ((note - 69) / 12), n, 1.2)
    mix = mix[: int(seconds * SR)]
    sf.write(out, (0.8 * mix / np.abs(mix).max()).astype(np.float32), SR, subtype="PCM_16")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
