"""ONNX export and the torch-free backend: the same scores as torch, and torch never imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from musictag.errors import MusictagError, ParameterError
from musictag.features.blockwise import stream_logmel
from musictag.features.config import MUSICNN
from musictag.features.mel import LogMel
from musictag.features.numpy_mel import NumpyLogMel
from musictag.inference.onnx_tagger import OnnxTagger
from musictag.inference.tagger import Tagger
from musictag.models.onnx_export import export_onnx

from conftest import music_like


@pytest.fixture(scope="module")
def tiny_onnx(tiny_model_dir, tmp_path_factory):
    return export_onnx(tiny_model_dir, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def test_numpy_front_end_matches_torch_block_by_block():
    """Both front ends share the framing (blockwise) and the patches; their mel frames agree."""
    audio = music_like(7.3, 16000, seed=2)
    blocks = [audio[i : i + 5000] for i in range(0, len(audio), 5000)]
    config = MUSICNN.with_(float16_quirk=False)
    expected = LogMel(config)(torch.from_numpy(audio)).numpy()
    np.testing.assert_allclose(np.concatenate(list(stream_logmel(NumpyLogMel(config), blocks))), expected, atol=2e-5)
    torch_blocks = np.concatenate([f.numpy() for f in stream_logmel(LogMel(config), blocks)])
    np.testing.assert_allclose(torch_blocks, expected, atol=1e-5)


def test_onnx_tagger_matches_torch(tiny_model_dir, tiny_onnx, tmp_path):
    paths = []
    for i, seconds in enumerate([9.5, 1.2, 4.0]):
        paths.append(tmp_path / f"t{i}.wav")
        sf.write(paths[-1], music_like(seconds, 22050, seed=i), 22050)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 4, np.float32), 16000)
    paths += [silent, tmp_path / "missing.wav"]
    for hop, workers in ((None, 1), (1.0, 1), (None, 3), (1.0, 0)):  # one file at a time, and several at once
        torch_results = list(Tagger(tiny_model_dir, hop=hop).tag_many(paths, embed="penultimate"))
        onnx_results = list(OnnxTagger(tiny_onnx, hop=hop).tag_many(paths, embed="penultimate", workers=workers))
        for a, b in zip(torch_results, onnx_results, strict=True):
            assert a.path == b.path
            if hasattr(a, "error"):
                assert b.error == a.error
                continue
            np.testing.assert_allclose(b.scores, a.scores, atol=1e-4)
            np.testing.assert_allclose(b.taggram, a.taggram, atol=1e-4)
            np.testing.assert_allclose(b.embedding, a.embedding, atol=1e-4)
            np.testing.assert_allclose(b.patch_starts, a.patch_starts)
            assert b.warnings == a.warnings and b.duration == pytest.approx(a.duration)
    with pytest.raises(ParameterError, match="has no layer 'embedding'"):
        next(OnnxTagger(tiny_onnx).embed_many(paths, layer="embedding"))


def test_tagging_holds_numpy_blas_to_one_thread_until_the_last_result(tiny_onnx, tmp_path):
    """Issue 32: numpy's idle BLAS threads spin and take cores from the model, so tagging runs with BLAS
    on one thread; the caller's own setting comes back afterwards."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"t{i}.wav")
        sf.write(paths[-1], music_like(2.0, 22050, seed=i), 22050)
    with threadpool_limits(2, user_api="blas"):  # the caller's setting, whatever the machine's cores
        for workers in (2, 1):  # several files at once, and one at a time
            during = [blas_threads() for _ in OnnxTagger(tiny_onnx).tag_many(paths, workers=workers)]
            assert during == [{1}] * 3 and blas_threads() == {2}


def test_cli_onnx_backend_never_imports_torch(tiny_model_dir, tiny_onnx, tmp_path):
    clip = tmp_path / "clip.wav"
    sf.write(clip, music_like(5.0, 16000), 16000)
    code = (
        "import sys, json; from musictag.cli.main import main\n"
        f"rc = main(['tag', {str(clip)!r}, '--model', {str(tiny_onnx)!r}, '--format', 'json', '--top-k', '0'])\n"
        "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    status = json.loads(done.stderr.strip().splitlines()[-1])
    assert status == {"rc": 0, "torch": False}
    scores = {row["tag"]: row["score"] for row in json.loads(done.stdout)[0]["tags"]}
    expected = Tagger(tiny_model_dir).tag(clip)
    for tag, score in zip(expected.labels, expected.scores, strict=True):
        assert scores[tag] == pytest.approx(float(score), abs=1e-4)

    library = subprocess.run(
        [
            sys.executable,
            "-m",
            "musictag",
            "tag",
            str(tmp_path),
            "--db",
            str(tmp_path / "l.db"),
            "--model",
            str(tiny_onnx),
            "--embed",
            "penultimate",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert library.returncode == 0 and "1 tagged" in library.stderr


def test_onnx_errors_are_one_line(tmp_path, tiny_model_dir):
    from musictag.models.config import ModelConfig
    from musictag.models.model_folder import save_model_folder
    from musictag.models.zoo import build_model

    shortchunk = {"n_classes": 2, "channels": [4, 4], "dense": 8}
    config = ModelConfig(name="sc", architecture="shortchunk-cnn", labels=["a", "b"], model=shortchunk)
    other = save_model_folder(tmp_path / "sc", config, build_model("shortchunk-cnn", **shortchunk).state_dict())
    not_onnx = tmp_path / "x.onnx"
    not_onnx.write_text("nope")
    with pytest.raises(MusictagError, match="not a readable ONNX model"):
        OnnxTagger(not_onnx)
    with pytest.raises(ParameterError, match="no such ONNX file"):
        OnnxTagger(tmp_path / "missing.onnx")
    done = subprocess.run(
        [sys.executable, "-m", "musictag", "tag", str(tmp_path), "--backend", "onnx", "--model", str(other)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "models export" in done.stderr and done.stderr.count("\n") == 1


def test_pretrained_export_matches_torch_on_the_reference_clip(pretrained_weights, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(pretrained_weights))
    clip = next((shared_data / "musicnn_example").glob("*.mp3"))
    for name in ("mtt-musicnn", "msd-vgg"):
        exported = OnnxTagger(export_onnx(pretrained_weights / "models" / name, tmp_path / f"{name}.onnx"))
        a, b = Tagger(name).tag(clip), exported.tag(clip)
        np.testing.assert_allclose(b.scores, a.scores, atol=1e-4)
        np.testing.assert_allclose(b.taggram, a.taggram, atol=1e-4)


def test_the_same_weights_through_torch_and_onnx_are_one_library_model(tiny_model_dir, tiny_onnx, tmp_path, capsys):
    """Defect 5: torch and ONNX runs of one model were two models of one name, and a backend switch retagged all."""
    import soundfile as sf

    from musictag.cli.main import main
    from musictag.library.database import Library

    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(2):
        sf.write(folder / f"t{i}.wav", music_like(3.5, 16000, seed=i), 16000)
    db = tmp_path / "lib.sqlite"
    assert main(["tag", str(folder), "--db", str(db), "--model", str(tiny_model_dir), "-q"]) == 0
    assert main(["tag", str(folder), "--db", str(db), "--model", str(tiny_onnx), "-q"]) == 0
    assert "0 tagged, 2 unchanged" in capsys.readouterr().err.splitlines()[-1]
    with Library(db) as library:
        (only,) = library.models()
        assert library.pick_model(str(tiny_onnx)) == library.pick_model(str(tiny_model_dir)) == only
    for model in ("tiny", str(tiny_onnx), str(tiny_model_dir)):
        assert main(["library", "query", "--db", str(db), "tag0 >= 0", "--model", model, "--format", "paths"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 2


def test_every_backend_offers_one_interface(tiny_model_dir, tiny_onnx, tmp_path):
    """Issue 29: Tagger and OnnxTagger (and RayTagger) share tag/embed with arrays, labels and geometry."""
    from musictag.inference.base import TaggerBackend
    from musictag.inference.factory import open_tagger

    samples = music_like(3.5, 22050, seed=3)
    results = []
    for tagger in (open_tagger(tiny_model_dir), open_tagger(tiny_onnx)):
        assert isinstance(tagger, TaggerBackend) and tagger.sample_rate == 16000
        results.append((tagger.tag(samples, sample_rate=22050), tagger.embed(samples, sample_rate=22050)))
    (torch_tag, torch_embed), (onnx_tag, onnx_embed) = results
    np.testing.assert_allclose(onnx_tag.scores, torch_tag.scores, atol=1e-5)
    np.testing.assert_allclose(onnx_embed.embedding, torch_embed.embedding, atol=1e-4)
    via_graph = open_tagger(tiny_model_dir, backend="onnx")  # its graph written from the weights, without torch
    np.testing.assert_allclose(via_graph.tag(samples, sample_rate=22050).scores, torch_tag.scores, atol=1e-5)


def test_tagging_needs_no_torch_and_a_missing_extra_is_named(pretrained_weights, tiny_model_dir, tmp_path):
    """Issue 32: `pip install musictag` (no torch) tags with the pretrained models; what needs an extra says which."""
    clip = tmp_path / "clip.wav"
    sf.write(clip, music_like(5.0, 22050), 22050)
    blocked = "import sys\nfor name in ('torch', 'lightning', 'sklearn', 'captum'): sys.modules[name] = None\n"
    env = {**os.environ, "MUSICTAG_CACHE": str(pretrained_weights)}
    code = blocked + f"from musictag.cli.main import main\nsys.exit(main(['tag', {str(clip)!r}, '--format', 'json']))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["model"] == "mtt-musicnn"
    for argv, extra in (
        (["explain", str(clip), "-o", str(tmp_path / "x")], "explain"),
        (["train", "gtzan-svm"], "train"),
    ):
        code = blocked + f"from musictag.cli.main import main\nsys.exit(main({argv!r}))\n"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 1 and f"pip install 'musictag[{extra}]'" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("block", [8, 16])
def test_front_end_filters_padded_to_the_cpus_block_change_no_output(tiny_model_dir, block):
    """Issue 32: the zero filters that keep onnxruntime's blocked layout (8 on AVX2, 16 on AVX-512) are exact."""
    import onnxruntime
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    from musictag.models.model_folder import WEIGHTS_NAME, read_config
    from musictag.models.onnx_graph import build_onnx

    config, state = read_config(tiny_model_dir), load_file(str(tiny_model_dir / WEIGHTS_NAME))
    patches = np.random.default_rng(0).standard_normal((3, config.patch_frames, 96)).astype(np.float32)
    outputs, filters = {}, {}
    for multiple in (1, block):
        graph = build_onnx(config, state, channel_block=multiple)
        weights = {w.name: numpy_helper.to_array(w) for w in graph.graph.initializer}
        convs = [weights[node.input[1]] for node in graph.graph.node if node.op_type == "Conv"]
        filters[multiple] = [w.shape[0] for w in convs if w.shape[1] == 1]  # the front end's: one input channel
        assert filters[multiple] and all(count % multiple == 0 for count in filters[multiple])
        session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs[multiple] = session.run(None, {"patches": patches})
    assert filters[block] != filters[1]  # some block was padded
    for padded, plain in zip(outputs[block], outputs[1], strict=True):
        np.testing.assert_allclose(padded, plain, atol=1e-6)
