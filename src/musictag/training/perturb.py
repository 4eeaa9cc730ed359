"""Short crops of a recording played as another recording of the same music might sound.

Recordings by other artists differ from the ones a model learned from in tuning and tempo, in timbre
and production (the spectrum's overall slope) and in level. A perturbed crop changes all four at random:
played up to ``speed`` faster or slower (pitch with it, as a tape), through a spectral tilt of up to
``tilt_db`` per octave around 1 kHz, at a gain of up to ``gain_db``. A transfer head learns from such
crops beside the plain ones (``transfer.perturbed_crops``).
"""

from __future__ import annotations

import numpy as np

from musictag.audio.arrays import AudioArray

SPEED = 0.1  # at most 10 % faster or slower: about 1.7 semitones
TILT_DB = 3.0  # per octave, around 1 kHz, at most 12 dB either way
GAIN_DB = 6.0


def perturbed_crop(
    audio: np.ndarray,
    rate: int,
    seconds: float,
    rng: np.random.Generator,
    *,
    speed: float = SPEED,
    tilt_db: float = TILT_DB,
    gain_db: float = GAIN_DB,
) -> AudioArray:
    """A crop of ``seconds`` (at most the recording) of mono ``audio`` at ``rate``, perturbed at random."""
    import soxr

    factor = rng.uniform(1 - speed, 1 + speed)
    needed = min(len(audio), max(2, round(seconds * rate * factor)))
    start = int(rng.integers(0, len(audio) - needed + 1))
    # the samples read as if recorded at rate * factor, then resampled to rate: played factor times as fast
    played = soxr.resample(np.asarray(audio[start : start + needed], np.float32), rate * factor, rate, quality="HQ")
    octaves = np.log2(np.maximum(np.fft.rfftfreq(len(played), 1 / rate), 20.0) / 1000.0)
    gain = np.clip(rng.uniform(-tilt_db, tilt_db) * octaves, -12.0, 12.0) + rng.uniform(-gain_db, gain_db)
    shaped = np.fft.irfft(np.fft.rfft(played) * 10 ** (gain / 20), n=len(played))
    return AudioArray(shaped.astype(np.float32), rate)
