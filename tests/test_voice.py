"""The formant singer: it sings the pitch asked for, its vowels have their formants, and it is reproducible."""

import numpy as np
import pytest

from musictag.synthesis.voice import Syllable, synthesize_voice

RATE = 22050


def _spectrum(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    middle = audio[RATE // 2 : RATE // 2 + 8192] * np.hanning(8192)
    return np.fft.rfftfreq(8192, 1 / RATE), np.abs(np.fft.rfft(middle))


@pytest.mark.parametrize("note, hz", [(45, 110.0), (57, 220.0), (64, 329.6)])
def test_sings_the_pitch_of_the_note(note, hz):
    audio = synthesize_voice([Syllable(0.0, 1.0, note, 100, "a", "")], 1.0, RATE, vibrato=0.0)
    freqs, magnitude = _spectrum(audio)
    # the harmonics are spaced by f0: the autocorrelation of the spectrum peaks there
    spacing = np.correlate(magnitude, magnitude, "full")[len(magnitude) - 1 :]
    lag = np.argmax(spacing[int(0.6 * hz / freqs[1]) :]) + int(0.6 * hz / freqs[1])
    assert abs(freqs[lag] - hz) / hz < 0.03


def test_vowels_put_energy_at_their_formants():
    def band_ratio(vowel: str) -> float:
        audio = synthesize_voice([Syllable(0.0, 1.0, 50, 100, vowel, "")], 1.0, RATE, vibrato=0.0)
        freqs, magnitude = _spectrum(audio)
        power = magnitude**2
        return power[(freqs > 1800) & (freqs < 2600)].sum() / power[(freqs > 200) & (freqs < 1000)].sum()

    assert band_ratio("i") > 5 * band_ratio("u")  # /i/'s second formant sits near 2.3 kHz, /u/'s near 0.9 kHz
    assert band_ratio("e") > band_ratio("o")


def test_silence_between_syllables_and_hiss_of_fricatives():
    syllables = [Syllable(0.2, 0.5, 50, 100, "a", ""), Syllable(1.2, 1.5, 52, 100, "o", "s")]
    audio = synthesize_voice(syllables, 2.0, RATE, seed=3)
    assert audio.dtype == np.float32 and len(audio) == 2 * RATE and np.abs(audio).max() == pytest.approx(1.0)
    assert np.abs(audio[int(0.7 * RATE) : int(1.0 * RATE)]).max() < 1e-3  # nothing sung
    hiss = audio[int(1.14 * RATE) : int(1.2 * RATE)]  # the /s/ before the second vowel is bright noise
    freqs, magnitude = np.fft.rfftfreq(len(hiss), 1 / RATE), np.abs(np.fft.rfft(hiss))
    centroid = (freqs * magnitude).sum() / magnitude.sum()
    assert centroid > 3000
    np.testing.assert_array_equal(audio, synthesize_voice(syllables, 2.0, RATE, seed=3))
    assert not synthesize_voice([], 1.0, RATE).any()


def test_festival_sings_and_raps_where_the_notes_are():
    from musictag.synthesis import festival
    from musictag.synthesis.compose import Note

    if not festival.available():
        pytest.skip("Festival is not installed (apt-get install festival festvox-kallpc16k festvox-us-slt-hts)")
    rate, rng = 16000, np.random.default_rng(0)
    notes = [Note("voice", 60 + k, 1.0 + 0.5 * k, 1.4 + 0.5 * k, 90) for k in range(4)]
    for audio in (
        festival.sing(notes, 120.0, 5.0, rate, rng),
        festival.rap(notes, "female", 5.0, rate, rng),
        festival.rap(notes, "male", 5.0, rate, rng),
    ):
        assert audio.shape == (5 * rate,) and audio.dtype == np.float32
        before, during, after = audio[: int(0.9 * rate)], audio[rate : int(2.9 * rate)], audio[int(3.3 * rate) :]
        assert not before.any()  # nothing before the first note
        assert np.sqrt(np.mean(during**2)) > 0.01
        assert np.sqrt(np.mean(after**2)) < 0.2 * np.sqrt(np.mean(during**2))
