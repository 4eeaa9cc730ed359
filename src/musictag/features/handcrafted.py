"""Handcrafted track descriptors for classical classifiers (SVM, logistic regression).

Frame-level descriptors from one STFT (2048 / 512 at 22.05 kHz, as librosa's defaults),
summarised by their mean and standard deviation over the track: MFCCs, chroma, spectral
centroid, bandwidth, contrast and roll-off, zero-crossing rate, RMS, and a tempo estimate.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

from musictag.errors import ParameterError
from musictag.features.config import FrontendConfig
from musictag.features.filterbank import mel_filterbank

GROUPS = ("mfcc", "chroma", "centroid", "bandwidth", "contrast", "rolloff", "zcr", "rms", "tempo")
N_FFT, HOP = 2048, 512
_CONTRAST_EDGES = (0, 200, 400, 800, 1600, 3200, 6400)


def _frames(y: np.ndarray) -> np.ndarray:
    padded = np.pad(y, N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    return np.lib.stride_tricks.as_strided(padded, (count, N_FFT), (padded.strides[0] * HOP, padded.strides[0]))


def _chroma_filters(sr: int) -> np.ndarray:
    """(12, bins): each FFT bin above 27.5 Hz votes for its pitch class, weighted by closeness."""
    freqs = np.fft.rfftfreq(N_FFT, 1 / sr)
    filters = np.zeros((12, len(freqs)))
    audible = freqs >= 27.5
    pitch = 12 * np.log2(freqs[audible] / 440.0) + 69
    for pc in range(12):
        distance = np.abs(((pitch - pc + 6) % 12) - 6)
        filters[pc, audible] = np.maximum(0, 1 - distance)
    return filters


def _tempo(onset: np.ndarray, sr: int) -> float:
    """BPM at the autocorrelation peak of the onset envelope, with a prior around 120 BPM."""
    onset = onset - onset.mean()
    if len(onset) < 4 or not onset.any():
        return 0.0
    corr = np.correlate(onset, onset, mode="full")[len(onset) - 1 :]
    lags = np.arange(1, len(corr))
    bpm = 60 * sr / (HOP * lags)
    usable = (bpm >= 40) & (bpm <= 240)
    if not usable.any():
        return 0.0
    prior = np.exp(-0.5 * (np.log2(bpm[usable] / 120.0)) ** 2)
    return float(bpm[usable][np.argmax(corr[1:][usable] * prior)])


def describe(y: np.ndarray, sr: int, *, groups: tuple[str, ...] = GROUPS) -> tuple[np.ndarray, list[str]]:
    """Descriptor vector of a mono signal and the name of each value."""
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ParameterError(f"unknown feature groups {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    if len(y) < N_FFT:
        y = np.resize(y, N_FFT)  # repeat very short clips
    frames = _frames(np.asarray(y, dtype=np.float64))
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(N_FFT + 1)[:-1], axis=1))  # (T, bins)
    power = magnitude**2
    freqs = np.fft.rfftfreq(N_FFT, 1 / sr)
    total = magnitude.sum(axis=1) + 1e-12
    values: dict[str, np.ndarray] = {}
    mel = power @ mel_filterbank(FrontendConfig(sample_rate=sr, n_fft=N_FFT, hop_length=HOP, n_mels=128)).T
    log_mel = 10 * np.log10(np.maximum(mel, 1e-10))
    if "mfcc" in groups:
        values["mfcc"] = dct(log_mel, type=2, norm="ortho", axis=1)[:, :20]
    if "chroma" in groups:
        chroma = power @ _chroma_filters(sr).T
        values["chroma"] = chroma / (chroma.max(axis=1, keepdims=True) + 1e-12)
    centroid = (magnitude @ freqs) / total
    if "centroid" in groups:
        values["centroid"] = centroid[:, None]
    if "bandwidth" in groups:
        values["bandwidth"] = np.sqrt((magnitude * (freqs[None] - centroid[:, None]) ** 2).sum(1) / total)[:, None]
    if "contrast" in groups:
        edges = [*(_CONTRAST_EDGES), sr / 2]
        bands = []
        for low, high in zip(edges[:-1], edges[1:], strict=True):
            band = np.sort(power[:, (freqs >= low) & (freqs < high)], axis=1)
            k = max(1, int(round(0.02 * band.shape[1])))
            bands.append(np.log10(band[:, -k:].mean(1) + 1e-10) - np.log10(band[:, :k].mean(1) + 1e-10))
        values["contrast"] = np.stack(bands, axis=1)
    if "rolloff" in groups:
        cumulative = np.cumsum(power, axis=1)
        index = np.argmax(cumulative >= 0.85 * cumulative[:, -1:], axis=1)
        values["rolloff"] = freqs[index][:, None]
    if "zcr" in groups:
        values["zcr"] = (np.abs(np.diff(np.signbit(frames), axis=1)).mean(axis=1))[:, None]
    if "rms" in groups:
        values["rms"] = np.sqrt((frames**2).mean(axis=1))[:, None]
    vector, names = [], []
    for group in GROUPS:
        if group in values:
            block = values[group]
            vector += [block.mean(0), block.std(0)]
            names += [f"{group}{i}_mean" for i in range(block.shape[1])] + [
                f"{group}{i}_std" for i in range(block.shape[1])
            ]
    if "tempo" in groups:
        onset = np.maximum(0, np.diff(log_mel, axis=0)).mean(axis=1)
        vector.append(np.array([_tempo(onset, sr)]))
        names.append("tempo")
    return np.concatenate(vector).astype(np.float32), names
