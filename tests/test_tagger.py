"""The torch tagger: tags, taggrams and embeddings, batching across files, devices and arrays."""

import numpy as np
import pytest
import soundfile as sf

from musictag import FileError, MusictagError, ParameterError, Tagger
from musictag.cli.main import build_parser
from musictag.inference import tagger as tagger_module

from conftest import music_like, run_main, tone


@pytest.fixture(scope="module")
def tagger(tiny_model_dir):
    return Tagger(tiny_model_dir)


def test_scores_are_the_mean_of_the_taggram_with_patch_times(tagger, write_audio):
    result = tagger.tag(write_audio("clip.wav", music_like(10.0, 16000), 16000))
    assert result.taggram.shape == (3, 5)  # 10 s -> three whole 3-second patches
    np.testing.assert_allclose(result.scores, result.taggram.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(result.patch_starts, [0, 2.992, 5.984])
    assert result.duration == pytest.approx(10.0)
    assert [tag for tag, _ in result.top()] == [tagger.labels[i] for i in np.argsort(-result.scores)]
    assert len(result.top(2)) == 2


def test_hop_gives_overlapping_patches(tiny_model_dir, write_audio):
    path = write_audio("clip.wav", music_like(10.0, 16000), 16000)
    result = Tagger(tiny_model_dir, hop=1.0).tag(path)
    assert len(result.taggram) == 1 + (626 - 187) // 62
    np.testing.assert_allclose(np.diff(result.patch_starts), 62 * 0.016)


def test_batching_across_files_does_not_change_results(tiny_model_dir, write_audio):
    paths = [write_audio(f"f{i}.wav", music_like(2.0 + 2.5 * i, 16000, seed=i), 16000) for i in range(4)]
    one = [r.taggram for r in Tagger(tiny_model_dir, batch_size=1).tag_many(paths)]
    many = [r.taggram for r in Tagger(tiny_model_dir, batch_size=7).tag_many(paths)]
    for a, b in zip(one, many, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize(
    "name, samples, sr",
    [
        ("short.wav", tone(1.2, 16000), 16000),  # shorter than one patch: padded by repetition
        ("silence.wav", np.zeros(16000 * 4, np.float32), 16000),
        ("stereo44k.wav", tone(4.0, 44100, channels=2), 44100),
        ("phone8k.wav", tone(4.0, 8000, 300), 8000),
        ("tiny.wav", np.full(40, 0.1, np.float32), 16000),  # a few samples still give one patch
    ],
)
def test_awkward_inputs_give_finite_scores(tagger, write_audio, name, samples, sr):
    result = tagger.tag(write_audio(name, samples, sr))
    assert len(result.taggram) >= 1
    assert np.isfinite(result.taggram).all() and ((result.scores >= 0) & (result.scores <= 1)).all()


def test_bad_files_do_not_stop_the_batch(tagger, write_audio, tmp_path):
    good = write_audio("good.wav", music_like(4.0, 16000), 16000)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "song.mp3"
    text.write_text("not audio\n" * 50)
    results = list(tagger.tag_many([empty, good, tmp_path / "missing.flac", text, good]))
    assert [type(r).__name__ for r in results] == ["FileError", "TagResult", "FileError", "FileError", "TagResult"]
    assert "file is empty" in results[0].error and "no such file" in results[2].error
    np.testing.assert_array_equal(results[1].taggram, results[4].taggram)
    assert results[2].to_dict() == {"path": str(tmp_path / "missing.flac"), "error": results[2].error}
    with pytest.raises(MusictagError, match="no such file"):
        tagger.tag(tmp_path / "missing.flac")
    assert isinstance(results[3], FileError)


def test_embeddings(tagger, write_audio):
    path = write_audio("clip.wav", music_like(7.0, 16000), 16000)
    pen = tagger.embed(path)
    assert pen.per_patch.shape == (2, 16) and pen.embedding.shape == (16,)
    pooled = tagger.embed(path, layer="max_pool")
    assert pooled.per_patch.shape == (2, 6 * 2 + 3 * 3 + 3 * 8)
    taggram = tagger.embed(path, layer="taggram")
    np.testing.assert_allclose(taggram.per_patch, tagger.tag(path).taggram, atol=1e-6)
    with pytest.raises(ParameterError, match="unknown layer"):
        tagger.embed(path, layer="cnn9")


def test_parameter_errors(tiny_model_dir, tmp_path):
    with pytest.raises(ParameterError, match="unknown model"):
        Tagger("jukebox-5b")
    with pytest.raises(ParameterError, match="unknown model"):
        Tagger(tmp_path)  # a folder without config.json / model.safetensors
    with pytest.raises(ParameterError, match="batch_size"):
        Tagger(tiny_model_dir, batch_size=0)
    with pytest.raises(ParameterError, match="hop"):
        Tagger(tiny_model_dir, hop=-1)


def test_batches_are_capped_whatever_batch_size_asks(tiny_model_dir, write_audio, monkeypatch):
    path = write_audio("long.wav", music_like(60.0, 16000), 16000)
    tagger = Tagger(tiny_model_dir, batch_size=100_000)
    seen = []
    forward = tagger.module.forward_features
    monkeypatch.setattr(tagger.module, "forward_features", lambda x: seen.append(len(x)) or forward(x))
    result = tagger.tag(path)
    assert max(seen) <= tagger_module.MAX_BATCH and sum(seen) == len(result.taggram) == 20
    help_text = build_parser()._subparsers._group_actions[0].choices["tag"].format_help()
    assert "memory" in help_text and "at most 64" in help_text


@pytest.mark.parametrize("damage", [b"", b'\x10\x00\x00\x00\x00\x00\x00\x00{"a":'])
def test_damaged_weights_are_one_line_naming_the_file(capsys, song, tiny_model_dir, tmp_path, damage):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(damage)
    code, _, err = run_main(capsys, "tag", song, "--model", broken)
    assert code == 1 and err.count("\n") == 1 and "model.safetensors: damaged or truncated weights" in err
    assert "musictag models pull" in err


def test_cuda_without_cuda_and_unknown_devices_are_parameter_errors(tiny_model_dir):
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA"):
            Tagger(tiny_model_dir, device="cuda")
    with pytest.raises(ParameterError, match="unknown device"):
        Tagger(tiny_model_dir, device="toaster")


def test_tagging_an_array_needs_its_sample_rate(tiny_model_dir, song):
    tagger = Tagger(tiny_model_dir)
    samples, rate = sf.read(song, dtype="float32")
    from_array = tagger.tag(samples, sample_rate=rate)
    np.testing.assert_allclose(from_array.scores, tagger.tag(song).scores, atol=1e-5)
    with pytest.raises(ParameterError, match="needs its sample_rate"):
        tagger.tag(samples)
