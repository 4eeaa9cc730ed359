import numpy as np
import pytest
import torch

from musictag.audio.stream import load
from musictag.errors import MusictagError, WeightsNotFoundError
from musictag.inference.tagger import Tagger
from musictag.models.musicnn import MusiCNN
from musictag.models.vgg import MusicnnVGG
from musictag.pretrained.catalog import PRETRAINED, parse_experiment_result
from musictag.pretrained.convert import convert, musicnn_mapping, vgg_mapping
from musictag.pretrained.store import ensure_weights

from tf_writer import to_tf_variables, write_checkpoint


def test_parse_both_experiment_result_layouts():
    mtt = "Results on the MagnaTagATune test set:\nROC-AUC: 0.9066769123674747\nPR-AUC: 0.38310571748763617\n"
    assert parse_experiment_result(mtt) == {"roc_auc": 0.9066769123674747, "pr_auc": 0.38310571748763617}
    msd = "Experiment: ['1562267674ismir_17']\nAUC: 0.8801927178090048\nAUC: 0.28906431196994925"
    assert parse_experiment_result(msd) == {"roc_auc": 0.8801927178090048, "pr_auc": 0.28906431196994925}


@pytest.mark.parametrize("model_cls, mapping", [(MusiCNN, musicnn_mapping), (MusicnnVGG, vgg_mapping)])
def test_mapping_covers_every_parameter_and_round_trips(model_cls, mapping):
    torch.manual_seed(0)
    source = model_cls()
    tf_vars = to_tf_variables(source.state_dict(), mapping())
    state = convert(tf_vars, mapping())
    expected = {k for k in source.state_dict() if not k.endswith("num_batches_tracked")}
    assert set(state) == expected
    for key, value in state.items():
        torch.testing.assert_close(torch.from_numpy(value), source.state_dict()[key])


def test_musicnn_variable_shapes_match_the_published_layout():
    tf_vars = to_tf_variables(MusiCNN().state_dict(), musicnn_mapping())
    assert tf_vars["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert tf_vars["conv2d_1/kernel"].shape == (7, 67, 1, 204)
    assert tf_vars["conv2d_2/kernel"].shape == (128, 1, 1, 51)
    assert tf_vars["conv2d_5/kernel"].shape == (7, 561, 1, 64)
    assert tf_vars["batch_normalization_9/gamma"].shape == (1506,)
    assert tf_vars["dense/kernel"].shape == (1506, 200)
    assert tf_vars["dense_1/kernel"].shape == (200, 50)


def test_convert_rejects_incomplete_or_foreign_checkpoints():
    tf_vars = to_tf_variables(MusicnnVGG().state_dict(), vgg_mapping())
    with pytest.raises(MusictagError, match="lacks"):
        convert({k: v for k, v in tf_vars.items() if k != "dense/bias"}, vgg_mapping())
    with pytest.raises(MusictagError, match="unexpected"):
        convert({**tf_vars, "extra/kernel": np.zeros(1, np.float32)}, vgg_mapping())


def test_offline_checkpoint_folder_is_converted_and_tags_like_the_source_model(tmp_path, write_audio):
    """--weights pointing at checkpoint folders: read, convert, cache, and give the same outputs."""
    torch.manual_seed(1)
    source = MusiCNN().eval()
    with torch.no_grad():
        for bn in (m for m in source.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))):
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(-1, 1)
    folder = tmp_path / "weights" / "MTT_musicnn"
    folder.mkdir(parents=True)
    write_checkpoint(f"{folder}/", to_tf_variables(source.state_dict(), musicnn_mapping()))
    (folder / "experiment.result").write_text("ROC-AUC: 0.5\nPR-AUC: 0.25\n")

    model_dir = ensure_weights("mtt-musicnn", weights=tmp_path / "weights")
    assert (model_dir / "model.safetensors").exists()
    tagger = Tagger("mtt-musicnn")  # now served from the cache, no --weights needed
    assert tagger.labels == list(PRETRAINED["mtt-musicnn"].labels)
    assert tagger.config.info["published"] == {"roc_auc": 0.5, "pr_auc": 0.25}

    clip = write_audio("clip.wav", np.random.default_rng(0).standard_normal(16000 * 7).astype(np.float32) * 0.1, 16000)
    result = tagger.tag(clip)
    with torch.no_grad():
        mel = tagger.frontend(torch.from_numpy(load(clip, sample_rate=16000)))
        expected = torch.sigmoid(source(mel[None, :187])).numpy()[0]
    np.testing.assert_allclose(result.taggram[0], expected, atol=1e-5)


def test_missing_weights_give_one_clear_error(monkeypatch):
    monkeypatch.setenv("MUSICTAG_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match="musictag models pull mtt-musicnn"):
        ensure_weights("mtt-musicnn")


def test_weights_path_that_does_not_exist(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        ensure_weights("mtt-vgg", weights=tmp_path / "nope")
