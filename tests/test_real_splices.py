"""Explanations on spliced audio: the relevance must point at the span whose content the model scores."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from musictag.explain.relevance import QUANTITIES, explain
from musictag.features.config import MUSICNN
from musictag.inference.tagger import Tagger
from musictag.models.config import ModelConfig
from musictag.studies.real_splices import SEGMENT, pick_target, splice

from conftest import noise, tone

pytest.importorskip("captum", reason="explanations need captum")
SR = 16000


class HearsHighBands(torch.nn.Module):
    """'high' rises with the energy of mel bands 60-96 (a ReLU'd 3x3 convolution, so Grad-CAM has a layer)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[:, 0, 1, 1] = 1.0
            self.conv.bias.fill_(0.0)

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = torch.relu(self.conv(x.unsqueeze(1)))
        high = h[:, 0, :, 60:].mean(dim=(1, 2))
        return {"logits": torch.stack([4 * high - 2, -4 * high + 2], dim=1)}


@pytest.fixture(scope="module")
def spliced(tmp_path_factory):
    """Low tone / high noise / low tone: the 'high' evidence lies in the middle span only."""
    import soundfile as sf

    rng = random.Random(3)
    low = tone(30.0, SR, freq=150.0, amp=0.3)
    high = np.clip(noise(30.0, SR, seed=2, amp=0.3), -1, 1)
    high = high - np.convolve(high, np.ones(8) / 8, mode="same")  # keep the top of the spectrum
    audio, span = splice(low, high, SR, rng)
    path = tmp_path_factory.mktemp("splice") / "spliced.wav"
    sf.write(path, audio, SR)
    return path, audio, span


def test_the_splice_puts_b_where_its_span_says(spliced):
    _, audio, (start, end) = spliced
    low, high = SEGMENT
    assert low <= start <= high + 0.1 and low <= end - start <= high + 0.1 and len(audio) / SR - end >= low - 0.1
    frames = np.lib.stride_tricks.sliding_window_view(audio, 800)[::800]
    brightness = np.abs(np.diff(frames, axis=1)).mean(1) / (np.abs(frames).mean(1) + 1e-9)
    times = (np.arange(len(frames)) * 800 + 400) / SR
    inside = (times > start + 0.1) & (times < end - 0.1)
    outside = (times < start - 0.1) | (times > end + 0.1)
    assert brightness[inside].min() > brightness[outside].max()


@pytest.mark.parametrize("quantity", QUANTITIES)
@pytest.mark.parametrize("method", ["occlusion", "integrated-gradients", "gradcam"])
def test_each_method_points_at_the_span_the_model_scores(spliced, method, quantity):
    from sklearn.metrics import roc_auc_score

    path, audio, span = spliced
    config = ModelConfig(
        name="bands", architecture="custom", labels=["high", "low"], frontend=MUSICNN.to_dict(), activation="sigmoid"
    )
    tagger = Tagger.from_model(HearsHighBands(), config)
    assert tagger.labels[pick_target(tagger, audio, SR, span, margin=0.05)] == "high"
    found = explain(tagger, str(path), target="high", method=method, quantity=quantity)
    centres = np.array([(s["start"] + s["end"]) / 2 for s in found.segments])
    inside = (centres > span[0]) & (centres < span[1])
    assert roc_auc_score(inside, found.over_time) > 0.9
    assert found.to_dict()["explains"].startswith("the file's" if quantity == "file-score" else "each 3-s patch")
