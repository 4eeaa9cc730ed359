"""Patches of log-mel frames: whole patches every hop, streamed chunk by chunk, short clips repeated."""

import numpy as np
import pytest

from musictag.errors import ParameterError
from musictag.features.patches import iter_patches


@pytest.mark.parametrize("total", [187, 188, 400, 1000])
@pytest.mark.parametrize("hop", [187, 50, 200])
@pytest.mark.parametrize("chunk", [1, 33, 1000])
def test_patches_match_slicing(total, hop, chunk):
    frames = np.arange(total * 2.0, dtype=np.float32).reshape(total, 2)
    patches = np.concatenate(
        list(iter_patches((frames[i : i + chunk] for i in range(0, total, chunk)), length=187, hop=hop))
    )
    expected = np.stack([frames[s : s + 187] for s in range(0, total - 187 + 1, hop)])
    np.testing.assert_array_equal(patches, expected)
    assert patches.dtype == np.float32 and patches.flags.c_contiguous


def test_short_clip_is_padded_by_repetition():
    frames = np.arange(50 * 3.0, dtype=np.float32).reshape(50, 3)
    (patch,) = list(iter_patches([frames[:20], frames[20:]], length=187, hop=187))
    assert patch.shape == (1, 187, 3)
    np.testing.assert_array_equal(patch[0, :50], frames)
    np.testing.assert_array_equal(patch[0, 50:100], frames)
    np.testing.assert_array_equal(patch[0, 150:], frames[:37])


def test_empty_input_gives_no_patch_and_bad_sizes_raise():
    assert list(iter_patches([], length=10, hop=10)) == []
    with pytest.raises(ParameterError):
        list(iter_patches([np.zeros((5, 2))], length=0, hop=1))
