"""Perturbed crops (transfer.perturbed_crops): faster or slower, tilted, louder or softer, as asked."""

import numpy as np
import pytest

from musictag.training.perturb import perturbed_crop

RATE = 16000


@pytest.mark.parametrize("seed", range(4))
def test_a_perturbed_crop_is_played_faster_or_slower_by_the_drawn_factor(seed):
    sine = np.sin(2 * np.pi * 440 * np.arange(5 * RATE) / RATE).astype(np.float32)
    factor = np.random.default_rng(seed).uniform(0.9, 1.1)  # the first draw
    crop = perturbed_crop(sine, RATE, 2.0, np.random.default_rng(seed), tilt_db=0, gain_db=0)
    assert crop.sample_rate == RATE and len(crop.samples) == 2 * RATE
    spectrum = np.abs(np.fft.rfft(crop.samples))
    assert np.fft.rfftfreq(len(crop.samples), 1 / RATE)[spectrum.argmax()] == pytest.approx(440 * factor, abs=0.5)


@pytest.mark.parametrize("seed", range(4))
def test_a_perturbed_crop_tilts_the_spectrum_linearly_in_octaves_and_sets_a_gain(seed):
    noise = np.random.default_rng(100 + seed).standard_normal(2 * RATE).astype(np.float32)
    crop = perturbed_crop(noise, RATE, 2.0, np.random.default_rng(seed), speed=0, tilt_db=3, gain_db=6)
    freqs = np.fft.rfftfreq(len(noise), 1 / RATE)
    keep = (freqs > 250) & (freqs < 4000)  # two octaves either side of 1 kHz: the tilt is not clipped there
    ratio_db = 20 * np.log10(np.abs(np.fft.rfft(crop.samples))[keep] / np.abs(np.fft.rfft(noise))[keep])
    slope, gain = np.polyfit(np.log2(freqs[keep] / 1000), ratio_db, 1)
    assert abs(slope) <= 3 and abs(gain) <= 6
    assert np.abs(ratio_db - (slope * np.log2(freqs[keep] / 1000) + gain)).max() < 0.01
    assert abs(slope) > 0.01 and abs(gain) > 0.01  # something was drawn


def test_a_crop_longer_than_the_recording_takes_all_of_it():
    short = np.ones(RATE // 2, np.float32)
    crop = perturbed_crop(short, RATE, 3.0, np.random.default_rng(0))
    assert abs(len(crop.samples) - RATE // 2) <= 0.1 * RATE // 2 + 1  # all of it, played faster or slower
