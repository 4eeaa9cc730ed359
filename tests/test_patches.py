import pytest
import torch

from musictag.errors import ParameterError
from musictag.features.patches import iter_patches


@pytest.mark.parametrize("total", [187, 188, 400, 1000])
@pytest.mark.parametrize("hop", [187, 50, 200])
@pytest.mark.parametrize("chunk", [1, 33, 1000])
def test_patches_match_slicing(total, hop, chunk):
    frames = torch.arange(total * 2.0).view(total, 2)
    patches = torch.cat(
        list(iter_patches((frames[i : i + chunk] for i in range(0, total, chunk)), length=187, hop=hop))
    )
    expected = torch.stack([frames[s : s + 187] for s in range(0, total - 187 + 1, hop)])
    assert torch.equal(patches, expected)


def test_short_clip_is_padded_by_repetition():
    frames = torch.arange(50 * 3.0).view(50, 3)
    (patch,) = list(iter_patches([frames[:20], frames[20:]], length=187, hop=187))
    assert patch.shape == (1, 187, 3)
    assert torch.equal(patch[0, :50], frames) and torch.equal(patch[0, 50:100], frames)
    assert torch.equal(patch[0, 150:], frames[:37])


def test_empty_input_gives_no_patch_and_bad_sizes_raise():
    assert list(iter_patches([], length=10, hop=10)) == []
    with pytest.raises(ParameterError):
        list(iter_patches([torch.zeros(5, 2)], length=0, hop=1))
