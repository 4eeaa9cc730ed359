import numpy as np
import pytest

from musictag.pretrained.tf_bundle import CheckpointFormatError, read_checkpoint, read_index

from tf_writer import write_checkpoint


def test_reads_back_names_shapes_dtypes_and_values(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "conv2d/kernel": rng.standard_normal((7, 38, 1, 4)).astype(np.float32),
        "conv2d/bias": np.arange(4, dtype=np.float32),
        "dense/kernel": rng.standard_normal((300, 2)),  # float64
        "global_step": np.array(123456789012, dtype=np.int64),
        "dense/kernel/Adam": np.ones((300, 2), dtype=np.float32),
    }
    write_checkpoint(str(tmp_path / "model"), tensors)
    index = read_index(tmp_path / "model.index")
    assert index["conv2d/kernel"].shape == (7, 38, 1, 4)
    assert index["global_step"].shape == ()
    loaded = read_checkpoint(tmp_path / "model")
    assert "dense/kernel/Adam" not in loaded  # optimiser slots are skipped by default
    for name in ("conv2d/kernel", "conv2d/bias", "dense/kernel", "global_step"):
        assert loaded[name].dtype == tensors[name].dtype
        np.testing.assert_array_equal(loaded[name], tensors[name])
    assert "dense/kernel/Adam" in read_checkpoint(tmp_path / "model", skip_optimizer=False)


def test_folder_prefix_as_musicnn_uses(tmp_path):
    folder = tmp_path / "MTT_musicnn"
    folder.mkdir()
    write_checkpoint(str(folder) + "/", {"a": np.ones(3, np.float32)})
    assert (folder / ".index").exists()
    np.testing.assert_array_equal(read_checkpoint(f"{folder}/")["a"], np.ones(3))


def test_rejects_files_that_are_not_checkpoints(tmp_path):
    bad = tmp_path / "x.index"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointFormatError, match="bad magic"):
        read_index(bad)
    (tmp_path / "short.index").write_bytes(b"abc")
    with pytest.raises(CheckpointFormatError, match="too short"):
        read_index(tmp_path / "short.index")


def test_missing_data_shard_is_reported(tmp_path):
    write_checkpoint(str(tmp_path / "m"), {"a": np.ones(3, np.float32)})
    (tmp_path / "m.data-00000-of-00001").unlink()
    with pytest.raises(CheckpointFormatError, match="shard 0 is missing"):
        read_checkpoint(tmp_path / "m")
