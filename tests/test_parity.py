"""Parity with the original musicnn 0.1.0 (TensorFlow 2.15, librosa 0.10) on its example clip.

Needs ../shared/data/musicnn_example and the musicnn wheel's weights (fetched from PyPI on
first use and cached); skips with a message when either is missing.
"""

import json

import numpy as np
import pytest

from musictag import Tagger, open_tagger
from musictag.inference.onnx_tagger import OnnxTagger

MODELS = {"mtt-musicnn": "MTT_musicnn", "msd-musicnn": "MSD_musicnn", "mtt-vgg": "MTT_vgg", "msd-vgg": "MSD_vgg"}


@pytest.fixture(scope="module")
def example(shared_data):
    folder = shared_data / "musicnn_example"
    clip = next(folder.glob("*.mp3"))
    reference = json.loads((folder / "reference_outputs.json").read_text())
    return clip, reference[clip.name]


@pytest.fixture(scope="module", params=["torch", "onnx"])
def taggers(request, pretrained_weights, monkeypatch_module):
    """Both paths: torch, and onnxruntime on the graphs written from the weights (the default path)."""
    monkeypatch_module.setenv("MUSICTAG_CACHE", str(pretrained_weights))
    if request.param == "torch":
        return {name: Tagger(name) for name in MODELS}
    return {name: open_tagger(name) for name in MODELS}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("name", MODELS)
def test_tags_match_the_original(example, taggers, name):
    clip, reference = example
    expected = reference[MODELS[name]]
    result = taggers[name].tag(clip)
    assert result.labels == expected["tags"]
    np.testing.assert_allclose(result.scores, expected["mean"], atol=1e-3)
    np.testing.assert_allclose(result.taggram, expected["taggram"], atol=2e-3)
    top10 = list(np.argsort(-np.asarray(expected["mean"]))[:10])
    assert list(np.argsort(-result.scores)[:10]) == top10


@pytest.mark.parametrize("name", ["mtt-musicnn", "msd-musicnn"])
def test_features_match_the_original(example, taggers, name):
    clip, reference = example
    expected = reference[MODELS[name]]
    # the reference keeps the first patch's penultimate features and the patch-mean of the pools
    penultimate = taggers[name].embed(clip, layer="penultimate").per_patch[0]
    np.testing.assert_allclose(penultimate, expected["penultimate"], atol=1e-2)
    for layer in ("max_pool", "mean_pool"):
        np.testing.assert_allclose(taggers[name].embed(clip, layer=layer).embedding, expected[layer], atol=1e-2)


def test_the_default_path_is_onnx_and_agrees_with_torch(example, pretrained_weights, monkeypatch):
    """The default (onnxruntime, graph written without torch) agrees with torch within 1e-5."""
    monkeypatch.setenv("MUSICTAG_CACHE", str(pretrained_weights))
    clip, _ = example
    for name in MODELS:
        default = open_tagger(name)
        assert isinstance(default, OnnxTagger)
        a, b = Tagger(name).tag(clip), default.tag(clip)
        assert np.abs(a.scores - b.scores).max() < 1e-5 and np.abs(a.taggram - b.taggram).max() < 1e-5
