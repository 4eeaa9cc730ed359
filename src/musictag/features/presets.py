"""Named front-end configurations of the models musictag knows, and how to read a custom one."""

from __future__ import annotations

import json
from pathlib import Path

from musictag.errors import ParameterError
from musictag.features.config import MUSICNN, FrontendConfig

FRONTENDS: dict[str, FrontendConfig] = {
    # musicnn and the synthetic-data study: 16 kHz, 512/256, 96 mels, log10(1 + 10000 x)
    "musicnn": MUSICNN,
    # multi-scale CNN (Dabral et al.): log-mel at 11025 Hz, n_fft 2048, hop 512
    "multiscale": FrontendConfig(sample_rate=11025, n_fft=2048, hop_length=512, n_mels=128, compression="db"),
    # short-chunk CNN / ResNet (Won et al. 2020): 16 kHz, 512/256, 128 mels, dB
    "shortchunk": FrontendConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=128, compression="db"),
    # VGGish: 25 ms windows every 10 ms, 64 HTK mel bands 125-7500 Hz of the magnitude, log(x + 0.01)
    "vggish": FrontendConfig(
        sample_rate=16000,
        n_fft=512,
        win_length=400,
        hop_length=160,
        n_mels=64,
        f_min=125,
        f_max=7500,
        mel_scale="htk",
        mel_norm=None,
        power=1.0,
        compression="log",
        eps=0.01,
    ),
    # AST: 25 ms windows every 10 ms, 128 mel bands 20 Hz-8 kHz, natural log of the power
    # (the Kaldi filterbank of the AST feature extractor, less pre-emphasis and DC removal)
    "ast": FrontendConfig(
        sample_rate=16000,
        n_fft=512,
        win_length=400,
        hop_length=160,
        n_mels=128,
        f_min=20,
        f_max=8000,
        mel_scale="htk",
        mel_norm=None,
        center=False,
        compression="log",
        eps=1.1920929e-07,
    ),
}


def frontend_from(value: str | dict | FrontendConfig) -> FrontendConfig:
    """A preset name, a JSON file, an inline JSON object, a dict or a config -> FrontendConfig."""
    if isinstance(value, FrontendConfig):
        return value
    if isinstance(value, dict):
        return FrontendConfig.from_dict(value)
    if value in FRONTENDS:
        return FRONTENDS[value]
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise ParameterError(f"unknown front end {value!r}: use {', '.join(FRONTENDS)} or a JSON config file")
        text = path.read_text()
    try:
        return FrontendConfig.from_dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ParameterError(f"front-end config {value!r} is not valid JSON ({exc})") from None
