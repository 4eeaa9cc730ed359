import pytest
import torch
from torch.nn import functional as F

from musictag.errors import ParameterError
from musictag.models.banded_conv import BandedConvMax
from musictag.models.musicnn import MusiCNN
from musictag.models.vgg import MusicnnVGG
from musictag.models.zoo import build_model


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(-1.5, 1.5)  # negative scales exercise the sign trick
            bn.bias.uniform_(-0.3, 0.3)


@pytest.mark.parametrize("kernel", [(7, 38), (7, 67), (7, 5), (128, 1), (64, 1), (3, 1)])
@pytest.mark.parametrize("frames", [187, 40])
def test_banded_conv_max_equals_conv_then_max(kernel, frames):
    torch.manual_seed(0)
    weight, bias = torch.randn(11, 1, *kernel), torch.randn(11)
    x = torch.randn(3, 1, frames + kernel[0] - 1, 96)
    expected = F.conv2d(x, weight, bias).amax(-1)
    torch.testing.assert_close(BandedConvMax(weight, bias)(x), expected, atol=1e-4, rtol=1e-4)


def test_inference_fast_path_equals_the_plain_layers():
    torch.manual_seed(0)
    model = MusiCNN(n_classes=7).eval()
    _randomise_batchnorm(model)
    x = torch.randn(2, 187, 96)
    with torch.no_grad():
        fast = model.forward_features(x)
        for block in [*model.timbral, *model.temporal]:
            block.forward_max = lambda inp, b=block: b(inp).amax(-1)  # the unoptimised definition
        slow = model.forward_features(x)
    for key in ("logits", "penultimate", "max_pool", "mean_pool", "timbral", "temporal"):
        torch.testing.assert_close(fast[key], slow[key], atol=1e-4, rtol=1e-4)


def test_cached_kernels_follow_new_weights():
    torch.manual_seed(0)
    a, b = MusiCNN().eval(), MusiCNN().eval()
    _randomise_batchnorm(b)
    x = torch.randn(1, 187, 96)
    with torch.no_grad():
        a(x)  # builds a's cached kernels
        a.load_state_dict(b.state_dict())
        torch.testing.assert_close(a(x), b(x))


def test_musicnn_shapes_and_size():
    model = MusiCNN().eval()
    out = model.forward_features(torch.randn(2, 187, 96))
    assert out["logits"].shape == (2, 50)
    assert out["penultimate"].shape == (2, 200)
    assert out["max_pool"].shape == out["mean_pool"].shape == (2, 753)
    assert out["timbral"].shape == (2, 187, 408) and out["temporal"].shape == (2, 187, 153)
    assert out["cnn3"].shape == (2, 187, 64)
    # the published MTT/MSD musicnn checkpoints hold 787,159 trainable values (+ BN statistics)
    assert sum(p.numel() for p in model.parameters()) == 787_159


def test_musicnn_accepts_other_lengths_and_trains():
    model = MusiCNN(n_classes=3)
    x = torch.randn(4, 60, 96)
    loss = F.cross_entropy(model(x), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert model.timbral[0].conv.weight.grad is not None


def test_vgg_shapes():
    model = MusicnnVGG().eval()
    out = model.forward_features(torch.randn(2, 187, 96))
    assert out["logits"].shape == (2, 50)
    assert out["penultimate"].shape == (2, 256)
    assert out["pool1"].shape == (2, 128, 92, 48)
    with pytest.raises(ValueError, match="too small"):
        MusicnnVGG(n_frames=10)


def test_build_model_errors():
    with pytest.raises(ParameterError, match="unknown architecture"):
        build_model("transformer9000")
    with pytest.raises(ParameterError, match="bad settings"):
        build_model("musicnn", n_layers=3)


def test_musicnn_input_norm_hides_level_or_equalisation():
    torch.manual_seed(0)
    x = torch.randn(2, 60, 96)
    level, tilt = torch.full((96,), 1.5), torch.linspace(-2.0, 2.0, 96)  # louder; brighter
    outputs = {}
    for norm in ("none", "level", "band"):
        torch.manual_seed(1)
        model = MusiCNN(n_classes=4, input_norm=norm).eval()
        _randomise_batchnorm(model)
        with torch.no_grad():
            outputs[norm] = [model(x + change) for change in (torch.zeros(96), level, tilt)]
    plain, louder, brighter = outputs["none"]
    assert not torch.allclose(plain, louder, atol=1e-3) and not torch.allclose(plain, brighter, atol=1e-3)
    plain, louder, brighter = outputs["level"]
    torch.testing.assert_close(louder, plain, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(plain, brighter, atol=1e-3)
    plain, louder, brighter = outputs["band"]
    torch.testing.assert_close(louder, plain, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(brighter, plain, atol=1e-4, rtol=1e-4)
    with pytest.raises(ParameterError, match="input_norm"):
        MusiCNN(input_norm="cmvn")
