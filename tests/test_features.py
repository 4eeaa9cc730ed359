import numpy as np
import pytest
import torch

from musictag.errors import ParameterError
from musictag.features.blockwise import stream_logmel
from musictag.features.config import MUSICNN, FrontendConfig
from musictag.features.filterbank import hz_to_mel, mel_filterbank, mel_to_hz
from musictag.features.mel import LogMel
from musictag.features.numpy_mel import float16_rounded

from conftest import music_like

librosa = pytest.importorskip("librosa", reason="librosa (a dev dependency) is the reference for the front end")

CONFIGS = [
    MUSICNN,
    FrontendConfig(sample_rate=11025, n_fft=2048, hop_length=512, n_mels=128, compression="db"),  # multi-scale CNN
    FrontendConfig(n_mels=128, compression="log"),  # short-chunk CNN
    FrontendConfig(
        n_fft=512,
        win_length=400,
        hop_length=160,
        n_mels=64,
        f_min=125,
        f_max=7500,
        mel_scale="htk",
        mel_norm=None,
        compression="none",
    ),  # VGGish-like
    FrontendConfig(power=1.0, center=False, compression="none"),
]


def test_mel_scale_known_values():
    # values from librosa's documentation
    assert hz_to_mel(60) == pytest.approx(0.9)
    assert hz_to_mel(60, htk=True) == pytest.approx(92.681858)
    assert mel_to_hz(3) == pytest.approx(200.0)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(np.array([0, 500, 1000, 4000, 8000]))), [0, 500, 1000, 4000, 8000])


def librosa_mel_settings(config: FrontendConfig) -> dict:
    """The keyword arguments librosa's mel functions take for ``config``."""
    return {
        "sr": config.sample_rate,
        "n_fft": config.n_fft,
        "n_mels": config.n_mels,
        "fmin": config.f_min,
        "fmax": config.f_max,
        "htk": config.mel_scale == "htk",
        "norm": config.mel_norm,
    }


@pytest.mark.parametrize("config", CONFIGS)
def test_filterbank_equals_librosa(config):
    expected = librosa.filters.mel(**librosa_mel_settings(config))
    np.testing.assert_allclose(mel_filterbank(config), expected, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("config", CONFIGS)
def test_melspectrogram_equals_librosa(config):
    y = music_like(3.3, config.sample_rate)
    mel = librosa.feature.melspectrogram(
        y=y,
        hop_length=config.hop_length,
        win_length=config.win_length,
        center=config.center,
        power=config.power,
        **librosa_mel_settings(config),
    ).T
    if config.compression == "db":
        expected = librosa.power_to_db(mel, ref=1.0, amin=config.amin, top_db=None)
    elif config.compression == "log":
        expected = np.log(mel + config.eps)
    elif config.compression == "log10_1p":
        expected = np.log10(1 + config.multiplier * mel.astype(np.float16).astype(np.float32))
    else:
        expected = mel
    ours = LogMel(config)(torch.from_numpy(y)).numpy()
    assert ours.shape == expected.shape
    if config.compression == "db":
        # float32 STFT rounding is ~1e-7 of the peak amplitude, so bins 100 dB under the peak carry
        # errors of a few percent that depend on the CPU's FFT kernels: compare the top 80 dB
        floor = expected.max() - 80
        ours, expected = np.maximum(ours, floor), np.maximum(expected, floor)
    scale = max(float(np.abs(expected).max()), 1.0)
    np.testing.assert_allclose(ours, expected, atol=2e-4 * scale, rtol=1e-3)
    assert LogMel(config).n_frames(len(y)) == len(expected)


def test_float16_quirk_rounds_mel_power_before_the_log():
    y = torch.from_numpy(music_like(2.0, 16000))
    exact = LogMel(MUSICNN.with_(float16_quirk=False))
    quirky = LogMel(MUSICNN)
    power = exact.power_mel(y)
    torch.testing.assert_close(quirky(y), torch.log10(1 + 10000 * power.half().float()))
    assert not torch.equal(quirky(y), exact(y))  # the rounding is visible


def test_float16_rounding_in_float32_equals_numpys_casts():
    # every 4,099th float32 from 0 to beyond float16's largest value, both signs, and the edges:
    # ties at float16's precision, its subnormals and smallest normal, where infinity starts, NaN
    bits = np.arange(0, 0x47900000, 4099, dtype=np.uint32)
    edges = [0.0, 2**-25, 3 * 2**-25, 2**-24, 1.5 * 2**-24, 2**-14 - 2**-25, 2**-14, 1 + 2**-11, 1 + 3 * 2**-11]
    edges += [2048.0 + 1, 2048.0 + 3, 65504.0, 65519.996, 65520.0, 1e30, np.inf, np.nan]
    values = np.concatenate([bits.view(np.float32), np.float32(edges)])
    values = np.concatenate([values, -values])
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(float16_rounded(values), expected)


@pytest.mark.parametrize("n_samples", [1, 300, 512, 513, 16000, 40001])
@pytest.mark.parametrize("block", [7, 1000, 50000])
def test_streaming_equals_whole_signal(n_samples, block):
    # without the float16 rounding, which can flip a value when FFT batch sizes differ
    frontend = LogMel(MUSICNN.with_(float16_quirk=False))
    y = np.random.default_rng(n_samples).standard_normal(n_samples).astype(np.float32) * 0.1
    chunks = list(stream_logmel(frontend, (y[i : i + block] for i in range(0, n_samples, block))))
    streamed = torch.cat(chunks)
    whole = frontend(torch.from_numpy(y))
    assert streamed.shape == whole.shape == (1 + n_samples // 256, 96)
    torch.testing.assert_close(streamed, whole, atol=1e-4, rtol=1e-4)


def test_invalid_settings_raise_parameter_error():
    with pytest.raises(ParameterError):
        FrontendConfig(n_mels=0)
    with pytest.raises(ParameterError, match="f_max"):
        FrontendConfig(f_max=9000)  # above Nyquist at 16 kHz
    with pytest.raises(ParameterError, match="unknown compression"):
        FrontendConfig(compression="cube")
    with pytest.raises(ParameterError, match="unknown front-end settings"):
        FrontendConfig.from_dict({"sample_rate": 16000, "nfft": 512})
