"""Augmentation of log-mel training crops, in the feature domain so that cached features serve.

Short crops cut a crop to a random length and repeat it to fill the patch, as the tagger pads
a clip shorter than one patch. Gain and additive noise act on the mel *power* (the compression is undone, the change
applied, the compression redone): a gain is exact, since mel power is linear in the signal
power; noise adds a flat mel-power floor at a chosen signal-to-noise ratio, the expected
effect of adding white-ish noise to the waveform. Time shift rolls the crop; SpecAugment
masks time and frequency stripes; mixup blends pairs of examples and their targets.
"""

from __future__ import annotations

import torch

from musictag.features.config import FrontendConfig
from musictag.training.settings import AugmentSettings


def to_power(features: torch.Tensor, config: FrontendConfig) -> torch.Tensor:
    """Undo the front end's compression: log-mel -> mel power."""
    if config.compression == "log10_1p":
        return (torch.pow(10.0, features) - 1).clamp_min(0) / config.multiplier
    if config.compression == "db":
        return torch.pow(10.0, features / 10)
    if config.compression == "log":
        return (torch.exp(features) - config.eps).clamp_min(0)
    return features


def from_power(power: torch.Tensor, config: FrontendConfig) -> torch.Tensor:
    """Apply the front end's compression to mel power."""
    if config.compression == "log10_1p":
        return torch.log10(power * config.multiplier + 1)
    if config.compression == "db":
        return 10 * torch.log10(power.clamp_min(config.amin))
    if config.compression == "log":
        return torch.log(power + config.eps)
    return power


def _masks(batch: int, size: int, count: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """Boolean ``(batch, size)`` of ``count`` stripes per row, each up to ``width`` long."""
    positions = torch.arange(size)
    mask = torch.zeros(batch, size, dtype=torch.bool)
    for _ in range(count):
        widths = torch.randint(0, width + 1, (batch, 1), generator=generator)
        starts = (torch.rand(batch, 1, generator=generator) * (size - widths + 1)).long()
        mask |= (positions >= starts) & (positions < starts + widths)
    return mask


def _equaliser(batch: int, bands: int, limit_db: float, generator: torch.Generator) -> torch.Tensor:
    """``(batch, 1, bands)`` gains in dB: a tilt from ``-t`` to ``+t`` plus a bell of random
    centre, width (2 to 30 % of the bands) and gain, ``|t|`` and the bell's gain up to ``limit_db``."""
    slope, centre, width, gain = torch.rand(4, batch, 1, 1, generator=generator)
    position = torch.linspace(-1, 1, bands).view(1, 1, bands)
    tilt = (slope * 2 - 1) * limit_db * position
    bell = (gain * 2 - 1) * limit_db * torch.exp(-0.5 * ((position - (centre * 2 - 1)) / (0.04 + 0.56 * width)) ** 2)
    return tilt + bell


def augment(
    x: torch.Tensor, settings: AugmentSettings, config: FrontendConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Augment a batch of log-mel crops ``(batch, frames, n_mels)``; returns a new tensor."""
    if not settings.active:
        return x
    generator = generator or torch.default_generator
    batch, frames, bands = x.shape
    if settings.gain_db or settings.eq_db or settings.noise_snr_db:
        power = to_power(x.float(), config)
        if settings.gain_db:
            gain_db = (torch.rand(batch, 1, 1, generator=generator) * 2 - 1) * settings.gain_db
            power = power * torch.pow(10.0, gain_db / 10)
        if settings.eq_db:
            power = power * torch.pow(10.0, _equaliser(batch, bands, settings.eq_db, generator) / 10)
        if settings.noise_snr_db:
            low, high = settings.noise_snr_db
            snr = low + torch.rand(batch, 1, 1, generator=generator) * (high - low)
            level = power.mean(dim=(1, 2), keepdim=True) * torch.pow(10.0, -snr / 10)
            chosen = torch.rand(batch, 1, 1, generator=generator) < settings.noise_prob
            power = power + level * chosen
        x = from_power(power, config).to(x.dtype)
    if settings.short_crops:
        lengths = (
            (
                frames
                * (settings.short_crop_min + (1 - settings.short_crop_min) * torch.rand(batch, generator=generator))
            )
            .long()
            .clamp(1, frames)
        )
        chosen = torch.rand(batch, generator=generator) < settings.short_crops
        x = torch.stack(
            [
                row[: int(n)].repeat(-(-frames // int(n)), 1)[:frames] if pick else row
                for row, n, pick in zip(x, lengths, chosen, strict=True)
            ]
        )
    if settings.shift:
        limit = int(settings.shift * frames)
        shifts = torch.randint(-limit, limit + 1, (batch,), generator=generator).tolist()
        x = torch.stack([torch.roll(row, s, dims=0) for row, s in zip(x, shifts, strict=True)])
    if settings.time_masks or settings.freq_masks:
        fill = x.mean(dim=(1, 2), keepdim=True)  # masked stripes take the crop's mean level
        mask = torch.zeros_like(x, dtype=torch.bool)
        if settings.time_masks and settings.time_mask:
            mask |= _masks(batch, frames, settings.time_masks, settings.time_mask, generator).unsqueeze(2)
        if settings.freq_masks and settings.freq_mask:
            mask |= _masks(batch, bands, settings.freq_masks, settings.freq_mask, generator).unsqueeze(1)
        x = torch.where(mask, fill, x)
    return x


def mixup(
    x: torch.Tensor, y: torch.Tensor, alpha: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend each example with a shuffled partner; ``y`` must be one-hot or multi-hot floats."""
    weight = torch.distributions.Beta(alpha, alpha).sample((x.shape[0],))
    order = torch.randperm(x.shape[0], generator=generator or torch.default_generator)
    wx = weight.view(-1, *([1] * (x.dim() - 1)))
    wy = weight.view(-1, *([1] * (y.dim() - 1)))
    return wx * x + (1 - wx) * x[order], wy * y + (1 - wy) * y[order]
