"""Feature-domain augmentation: exact gain, equaliser, noise at the asked level, masks, shift and mixup."""

import torch

from musictag.features.config import FrontendConfig
from musictag.features.presets import FRONTENDS
from musictag.training.augment import augment, from_power, mixup, to_power
from musictag.training.settings import AugmentSettings


def _crops(config, seed=0):
    power = torch.rand(4, 50, config.n_mels, generator=torch.Generator().manual_seed(seed)) * 1e-3 + 1e-6
    return from_power(power, config)


def test_compression_round_trip_for_every_front_end():
    for config in FRONTENDS.values():
        power = torch.rand(3, 10, config.n_mels, dtype=torch.float64) * 1e-2 + 1e-5
        torch.testing.assert_close(to_power(from_power(power, config), config), power, rtol=1e-6, atol=1e-12)


def test_gain_scales_mel_power_exactly():
    config = FRONTENDS["musicnn"]
    x = _crops(config)
    out = augment(x, AugmentSettings(gain_db=12), config, torch.Generator().manual_seed(1))
    ratio = to_power(out.double(), config) / to_power(x.double(), config)
    per_crop = ratio.flatten(1)
    assert torch.allclose(per_crop, per_crop[:, :1], rtol=1e-3)  # one gain per crop
    gains_db = 10 * torch.log10(per_crop[:, 0])
    assert gains_db.abs().max() <= 12 and gains_db.std() > 0


def test_equaliser_is_a_smooth_gain_per_band_the_same_in_every_frame():
    config = FRONTENDS["musicnn"]
    x = _crops(config)
    out = augment(x, AugmentSettings(eq_db=6), config, torch.Generator().manual_seed(2))
    gains_db = 10 * torch.log10(to_power(out.double(), config) / to_power(x.double(), config))
    torch.testing.assert_close(gains_db, gains_db[:, :1].expand_as(gains_db), atol=1e-2, rtol=0)  # per band only
    curve = gains_db[:, 0]  # (crop, band)
    assert curve.abs().max() <= 12 and (curve.max(1).values - curve.min(1).values).min() > 0.1
    assert (curve.diff(dim=1).abs().max() < 1.5) and not torch.allclose(curve[0], curve[1])  # smooth, per crop


def test_noise_is_added_at_the_asked_snr():
    config = FRONTENDS["shortchunk"]
    x = _crops(config)
    settings = AugmentSettings(noise_snr_db=[10, 10], noise_prob=1.0)
    added = to_power(augment(x, settings, config), config) - to_power(x, config)
    snr = 10 * torch.log10(to_power(x, config).mean(dim=(1, 2)) / added.mean(dim=(1, 2)))
    torch.testing.assert_close(snr, torch.full((4,), 10.0), atol=0.05, rtol=0)


def test_spec_augment_masks_stripes_and_shift_rolls():
    config = FRONTENDS["musicnn"]
    x = _crops(config)
    out = augment(x, AugmentSettings(freq_masks=1, freq_mask=10), config, torch.Generator().manual_seed(0))
    changed_bands = (out != x).any(dim=1)  # (batch, bands)
    assert changed_bands.sum(1).max() <= 10 and (out.shape == x.shape)
    rolled = augment(x, AugmentSettings(shift=0.2), config, torch.Generator().manual_seed(3))
    for row, original in zip(rolled, x, strict=True):
        assert any(torch.equal(row, torch.roll(original, s, 0)) for s in range(-10, 11))


def test_mixup_makes_convex_combinations():
    x = torch.stack([torch.full((5, 3), float(i)) for i in range(6)])
    y = torch.eye(6)
    mixed_x, mixed_y = mixup(x, y, 0.4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(mixed_y.sum(1), torch.ones(6))
    torch.testing.assert_close(mixed_x[:, 0, 0], mixed_y @ torch.arange(6.0))


def test_short_crops_repeat_a_prefix_as_the_tagger_pads_short_clips():
    x = torch.arange(2 * 10 * 3, dtype=torch.float32).reshape(2, 10, 3)
    out = augment(
        x, AugmentSettings(short_crops=1.0, short_crop_min=0.3), FrontendConfig(), torch.Generator().manual_seed(0)
    )
    for row, original in zip(out, x, strict=True):
        length = next(n for n in range(1, 11) if torch.equal(row, original[:n].repeat(10, 1)[:10]))
        assert 3 <= length <= 10
    untouched = augment(x, AugmentSettings(short_crops=0.0, gain_db=0.0), FrontendConfig())
    assert torch.equal(untouched, x)
