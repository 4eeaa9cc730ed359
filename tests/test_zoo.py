"""The model zoo: every architecture builds from a config, runs, and round-trips a model folder."""

import numpy as np
import pytest
import torch

from musictag import Tagger
from musictag.features.presets import FRONTENDS
from musictag.models.config import ModelConfig
from musictag.models.model_folder import load_model_folder, save_model_folder
from musictag.models.zoo import ARCHITECTURES, build_model

from conftest import tone

TINY_AST = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_length": 100,
    "num_mel_bins": 128,
}

# architecture, settings, front end, patch frames
ZOO = [
    ("shortchunk-cnn", {"channels": [8, 8, 16], "dense": 16}, "shortchunk", 64),
    ("shortchunk-res", {"channels": [8, 16], "dense": 16}, "shortchunk", 64),
    ("multiscale-cnn", {"n_mels": 128, "n_frames": 64, "width": 8, "hidden": 16}, "multiscale", 64),
    ("vggish", {"stages": [[8], [16]], "dense": 32, "embedding": 16}, "vggish", 96),
    ("ast", {"config": TINY_AST}, "ast", 100),
    ("framewise-cnn", {"channels": 4, "hidden": 8}, "musicnn", 64),
]


@pytest.mark.parametrize(("architecture", "settings", "frontend", "frames"), ZOO, ids=[z[0] for z in ZOO])
def test_zoo_model_folder_tags_like_a_pretrained_model(architecture, settings, frontend, frames, tmp_path, write_audio):
    torch.manual_seed(0)
    model = build_model(architecture, n_classes=3, **settings).eval()
    bands = FRONTENDS[frontend].n_mels
    x = torch.randn(2, frames, bands)
    features = model.forward_features(x)
    assert features["logits"].shape == (2, 3)
    assert features["penultimate"].shape == (2, model.embedding_dims["penultimate"])
    saved = model.model_config() if hasattr(model, "model_config") else settings
    config = ModelConfig(
        name=architecture,
        architecture=architecture,
        labels=["a", "b", "c"],
        model={**saved, "n_classes": 3},
        frontend=FRONTENDS[frontend].to_dict(),
        activation="softmax",
        patch_frames=frames,
    )
    folder = save_model_folder(tmp_path / "m", config, model.state_dict())
    loaded, _ = load_model_folder(folder)
    torch.testing.assert_close(loaded(x), model(x))
    result = Tagger(folder).tag(write_audio("clip.wav", tone(3.0, 16000, 330), 16000))
    assert result.scores.shape == (3,) and np.isclose(result.scores.sum(), 1.0, atol=1e-5)


def test_every_architecture_is_covered():
    assert {z[0] for z in ZOO} | {"musicnn", "vgg", "transfer"} == set(ARCHITECTURES)


def test_ast_frozen_backbone_trains_only_the_head():
    pytest.importorskip("transformers")
    model = build_model("ast", n_classes=4, config=TINY_AST, freeze="backbone").train()
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("ast.classifier") for name in trainable)
    assert not model.ast.audio_spectrogram_transformer.training  # no dropout in the frozen part


def test_shortchunk_default_is_the_published_size():
    model = build_model("shortchunk-cnn", n_classes=50).eval()
    widths = [stage.conv.out_channels for stage in model.stages]
    assert widths == [128, 128, 256, 256, 256, 256, 512] and model.dense.out_features == 512
    assert model(torch.randn(1, 232, 128)).shape == (1, 50)  # ~3.7 s at 16 kHz, hop 256


def test_multiscale_default_takes_a_whole_mtt_clip():
    model = build_model("multiscale-cnn").eval()  # 128 mels x 628 frames (29.1 s at 11025 Hz, hop 512)
    assert model.flat_bn.num_features == 70 * 8 * 9 and model(torch.randn(1, 628, 128)).shape == (1, 50)


def test_framewise_scores_are_local_and_their_mean_is_the_clip_score():
    """A frame's score hears about a quarter second: changing the input 40 frames away leaves it alone."""
    torch.manual_seed(0)
    model = build_model("framewise-cnn", n_classes=2, channels=4, hidden=8).eval()
    x = torch.randn(1, 120, 96)
    features = model.forward_features(x)
    torch.testing.assert_close(features["logits"], features["frame_logits"].mean(-1))
    changed = x.clone()
    changed[:, 80:] = torch.randn(1, 40, 96)
    after = model.forward_features(changed)["frame_logits"]
    torch.testing.assert_close(after[..., :60], features["frame_logits"][..., :60])
    assert not torch.allclose(after[..., 80:], features["frame_logits"][..., 80:])
