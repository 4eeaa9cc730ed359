"""Explanations with known answers: a model that looks at one time span and one band range."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from musictag.errors import MusictagError, ParameterError
from musictag.explain.outputs import write_explanation
from musictag.explain.relevance import explain
from musictag.features.config import MUSICNN
from musictag.inference.tagger import Tagger
from musictag.models.config import ModelConfig

from conftest import music_like

pytest.importorskip("captum", reason="explanations need captum")

FRAMES, BANDS = slice(100, 140), slice(60, 84)  # what the model looks at, within each 187-frame patch


class LooksAtOneSpot(torch.nn.Module):
    """Scores 'there' from the mean log-mel of frames 100-140 and bands 60-84 of a patch, 'elsewhere' from nothing."""

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        spot = x[:, FRAMES, BANDS].mean(dim=(1, 2))
        return {"logits": torch.stack([4 * spot - 2, torch.zeros_like(spot)], dim=1)}


@pytest.fixture
def spot_tagger() -> Tagger:
    config = ModelConfig(
        name="spot",
        architecture="custom",
        labels=["there", "elsewhere"],
        frontend=MUSICNN.to_dict(),
        activation="sigmoid",
    )
    return Tagger.from_model(LooksAtOneSpot(), config)


@pytest.mark.parametrize("quantity", ["patch-log-odds", "file-score"])
@pytest.mark.parametrize(
    ("method", "noise"), [("occlusion", 0.02), ("integrated-gradients", 0.02), ("lime", 0.1), ("kernel-shap", 0.1)]
)
def test_relevance_lands_where_the_model_looks(spot_tagger, write_audio, method, noise, quantity):
    path = write_audio("noise.wav", music_like(6.0, 16000, seed=1), 16000)
    found = explain(
        spot_tagger, str(path), target="there", method=method, segment_seconds=0.5, bands=4, quantity=quantity
    )
    if quantity == "file-score":  # a surrogate's positive noise is kept (scaled up), its negative noise dropped
        noise = {"lime": 0.15, "kernel-shap": 0.3}.get(method, noise)
    frame = spot_tagger.frame_seconds
    spans = [((p * 187 + FRAMES.start) * frame, (p * 187 + FRAMES.stop) * frame) for p in range(2)]
    near = [s for s in found.segments if any(s["end"] > a - 0.5 and s["start"] < b + 0.5 for a, b in spans)]
    far = [s for s in found.segments if s not in near]
    peak = max(s["relevance"] for s in found.segments)
    assert far and max(abs(s["relevance"]) for s in far) < noise * peak  # LIME's surrogate is fitted to 64 samples
    for a, b in spans:  # every segment well inside the spot counts
        assert all(s["relevance"] > 0.1 * peak for s in found.segments if s["start"] >= a and s["end"] <= b)
    top = found.top(2)
    assert all(s["mel_bins"][0] < BANDS.stop and s["mel_bins"][1] > BANDS.start for s in top)
    per_band = found.per_band().sum(axis=0)
    assert found.band_edges[int(per_band.argmax())] in range(48, 85)


class SureOfOneSpot(torch.nn.Module):
    """LooksAtOneSpot, but so sure that its probability for 'there' rounds to 1 in float32."""

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        spot = x[:, FRAMES, BANDS].mean(dim=(1, 2))
        return {"logits": torch.stack([400 * spot, torch.zeros_like(spot)], dim=1)}


@pytest.mark.parametrize("activation", ["sigmoid", "softmax"])
def test_a_saturated_score_is_still_explained(write_audio, activation):
    """Relevance is of the log-odds, computed from the logits: removing part of the spot (each band set to
    its mean level) changes them by 400 x its share of the spot, though the probability stays 1.0."""
    config = ModelConfig(
        name="sure",
        architecture="custom",
        labels=["there", "elsewhere"],
        frontend=MUSICNN.to_dict(),
        activation=activation,
    )
    tagger = Tagger.from_model(SureOfOneSpot(), config)
    path = write_audio("noise.wav", music_like(3.0, 16000, seed=1), 16000)
    found = explain(
        tagger, str(path), target="there", method="occlusion", segment_seconds=0.5, bands=4, quantity="patch-log-odds"
    )
    assert found.score == 1.0
    patch = torch.from_numpy(found.mel[:187].copy())
    spot = (FRAMES.start * tagger.frame_seconds, FRAMES.stop * tagger.frame_seconds)
    touching = [s["end"] > spot[0] and s["start"] < spot[1] for s in found.segments]
    assert any(touching)
    for segment, touches in zip(found.segments, touching, strict=True):
        assert (segment["relevance"] != 0) if touches else (segment["relevance"] == 0)
    # the whole map adds up to the log-odds lost when every window is removed in turn: 400 x the spot's
    # mean distance above its bands' mean levels
    lost = (patch[FRAMES, BANDS] - patch.mean(dim=0)[BANDS]).mean()
    assert found.relevance.sum() == pytest.approx(400 * float(lost), rel=1e-3)


def test_files_written_and_bad_input(spot_tagger, write_audio, tmp_path):
    path = write_audio("clip.wav", music_like(4.0, 16000, seed=2), 16000)
    found = explain(spot_tagger, str(path), target="there")
    written = write_explanation(found, tmp_path / "out", sample_rate=16000, top_k=2)
    record = json.loads(written["json"].read_text())
    assert record["target"] == "there" and len(record["top_segments"]) == 2
    top, info = sf.read(written["top"])[0], sf.info(written["without"])
    assert len(top) == pytest.approx(2 * found.segment_seconds * 16000 + 2 * 1600, abs=4)  # two segments, two pauses
    assert info.duration == pytest.approx(4.0, abs=0.01) and written["png"].stat().st_size > 1000
    without = sf.read(written["without"])[0]
    a, b = int(record["top_segments"][0]["start"] * 16000), int(record["top_segments"][0]["end"] * 16000)
    assert not np.any(without[a:b]) and np.any(without)
    with pytest.raises(ParameterError, match="unknown target"):
        explain(spot_tagger, str(path), target="nope")
    with pytest.raises(ParameterError, match="unknown method"):
        explain(spot_tagger, str(path), method="shap")
    with pytest.raises(MusictagError, match="no such file"):
        explain(spot_tagger, str(tmp_path / "missing.wav"))


def test_cli_explain(tiny_model_dir, tmp_path):
    clip = tmp_path / "c.wav"
    sf.write(clip, music_like(4.0, 16000), 16000)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "musictag",
            "explain",
            str(clip),
            str(tmp_path / "gone.wav"),
            "--model",
            str(tiny_model_dir),
            "--method",
            "gradcam",
            "-o",
            str(tmp_path / "x"),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "gone.wav: no such file" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "x" / "c.png").is_file() and (tmp_path / "x" / "c.top.wav").is_file()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "musictag",
            "explain",
            str(clip),
            "--model",
            str(tiny_model_dir),
            "--target",
            "nope",
            "-o",
            str(tmp_path / "y"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "unknown target" in bad.stderr


def test_gradients_after_tagging(tiny_model_dir, tmp_path):
    """musicnn's fast front-end kernel, first built while tagging (inference mode), must not break the
    input gradients of a later explanation with the same tagger."""
    clip = tmp_path / "c.wav"
    sf.write(clip, music_like(4.0, 16000), 16000)
    tagger = Tagger(tiny_model_dir)
    tagger.tag(clip)
    found = explain(tagger, str(clip), method="integrated-gradients")
    assert np.isfinite(found.relevance).all() and np.abs(found.relevance).sum() > 0


def test_musicnn_occlusion_reuses_the_front_end_exactly(tiny_model_dir, tmp_path, monkeypatch):
    """Occlusion of a musicnn recomputes the timbral front end only near the occluded frames; its map must
    equal the one from whole forward passes (and a partial front end must equal the whole one's slice)."""
    from musictag.explain import relevance

    clip = tmp_path / "c.wav"
    sf.write(clip, music_like(7.0, 16000), 16000)
    tagger = Tagger(tiny_model_dir)
    patches, _ = tagger.file_patches(clip)
    with torch.no_grad():
        whole = tagger.module.timbral_front(patches)
        torch.testing.assert_close(tagger.module.timbral_front(patches, frames=(0, 40)), whole[..., :40])
        torch.testing.assert_close(tagger.module.timbral_front(patches, frames=(150, 187)), whole[..., 150:])
    fast = explain(tagger, str(clip), target="tag2", quantity="patch-log-odds")  # the method's own figures

    class WholeForward:
        def __init__(self, module, patches, activation):
            self.module, self.activation = module, activation

        def __call__(self, x):
            return relevance.log_odds(self.module.forward_features(x)["logits"], self.activation)

    monkeypatch.setattr(relevance, "_ReusedFront", WholeForward)
    slow = explain(tagger, str(clip), target="tag2", quantity="patch-log-odds")
    assert np.abs(slow.relevance).max() > 0
    np.testing.assert_allclose(fast.relevance, slow.relevance, rtol=1e-4, atol=1e-6 * np.abs(slow.relevance).max())


def test_classical_contributions_follow_the_linear_model(tmp_path, write_audio):
    from musictag.data.load import open_dataset
    from musictag.explain.contributions import explain_features
    from musictag.training.classical import train_classical
    from musictag.training.settings import ClassicalSettings

    from conftest import noise, tone

    rng = np.random.default_rng(0)
    for n in range(6):
        write_audio(f"d/low/{n}.wav", tone(2.0, 22050, 100 + 10 * n), 22050)
        write_audio(f"d/noisy/{n}.wav", (0.2 * rng.standard_normal(2 * 22050)).astype(np.float32), 22050)
    data = open_dataset(str(tmp_path / "d"))
    settings = ClassicalSettings(classifier="logreg", inner_folds=2, Cs=[1.0], gammas=["scale"])
    folder = train_classical(data, data.items, settings, tmp_path / "model", name="lr")
    tagger = Tagger(folder)
    clip = write_audio("new.wav", noise(3.0, 22050, 9, amp=0.2), 22050)
    found = explain_features(tagger, str(clip), target="noisy")
    scaler, linear = tagger.classical.pipeline[0], tagger.classical.pipeline[-1]
    from musictag.audio.stream import load
    from musictag.features.handcrafted import describe

    vector, names = describe(load(clip, sample_rate=22050), 22050, groups=tuple(tagger.classical.groups))
    logit_terms = linear.coef_[0] * scaler.transform(vector[None])[0]  # class 1 ("noisy") of a binary model
    assert found.names == names and found.target == "noisy"
    big = np.abs(logit_terms) > 1e-6
    np.testing.assert_array_equal(np.sign(found.contributions[big]), np.sign(logit_terms[big]))
    assert int(np.argmax(np.abs(found.contributions))) == int(np.argmax(np.abs(logit_terms)))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "musictag",
            "explain",
            str(clip),
            "--model",
            str(folder),
            "-o",
            str(tmp_path / "e"),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "e" / "new.json").read_text())["method"] == "mean ablation"


@pytest.mark.slow
def test_explanations_change_when_the_weights_are_random(pretrained_weights, shared_data, monkeypatch, tmp_path):
    """Adebayo et al.'s check on mtt-musicnn and 9 s of a real clip: every method's map decorrelates."""
    from musictag.audio.stream import load
    from musictag.explain.sanity import PASS_BELOW, sanity_correlation

    monkeypatch.setenv("MUSICTAG_CACHE", str(pretrained_weights))
    clip = str(tmp_path / "clip.wav")
    sf.write(clip, load(next((shared_data / "musicnn_example").glob("*.mp3")), sample_rate=16000)[: 9 * 16000], 16000)
    tagger = Tagger("mtt-musicnn")
    for method in ("occlusion", "integrated-gradients", "gradcam"):
        assert sanity_correlation(tagger, clip, method=method) < PASS_BELOW, method


def test_benchmark_scores_know_where_the_model_looks(spot_tagger, write_audio):
    """The benchmark's span labels and deletion curve on a model with a known spot: deleting the spot's
    segments first lowers the score faster than deleting the others first."""
    from musictag.studies.explanation_benchmark import deletion_auc, segment_labels

    path = write_audio("clip.wav", music_like(6.0, 16000, seed=3) * 3, 16000)
    found = explain(spot_tagger, str(path), target="there", method="occlusion")
    frame = spot_tagger.frame_seconds
    spot = [((p * 187 + FRAMES.start) * frame, (p * 187 + FRAMES.stop) * frame) for p in range(2)]
    labels = segment_labels(found, spot)
    assert labels.sum() >= 2 and labels.sum() < len(labels)  # a segment counts when half of it is inside
    for s, inside in zip(found.segments, labels, strict=True):
        overlap = sum(max(0.0, min(s["end"], b) - max(s["start"], a)) for a, b in spot)
        assert bool(inside) == (overlap >= 0.5 * (s["end"] - s["start"]))
    spot_first = np.argsort(-labels, kind="stable")
    spot_last = np.argsort(labels, kind="stable")
    assert deletion_auc(spot_tagger, found, spot_first) < deletion_auc(spot_tagger, found, spot_last) - 0.05


def test_a_clip_shorter_than_a_patch_is_explained_within_the_clip(spot_tagger, write_audio, tmp_path, capsys):
    """Defect 6: a 0.1-s file was "most relevant at 2.0-2.5 s" (the repeats that pad it to one patch)."""
    from musictag.explain.relevance import fold_repeats

    path = write_audio("short.wav", music_like(0.4, 16000, seed=1), 16000)
    found = explain(spot_tagger, str(path), target="there", segment_seconds=0.1)
    assert found.segments[-1]["end"] <= found.duration + spot_tagger.frame_seconds
    assert all(s["end"] <= 0.4 + 0.05 for s in found.top(5)) and found.top(5)
    assert len(found.mel) == len(found.relevance) == round(0.4 / spot_tagger.frame_seconds)
    # what the padding's frames carried is added onto the frames they repeat, not dropped
    padded = np.arange(10.0)[:, None] * np.ones((1, 2))
    np.testing.assert_array_equal(fold_repeats(padded, 4)[:, 0], [0 + 4 + 8, 1 + 5 + 9, 2 + 6, 3 + 7])


def test_explain_files_of_one_name_in_two_folders_keep_both_outputs(tiny_model_dir, tmp_path, capsys):
    """Defect 7: explain a/song.wav b/song.wav -o out wrote the second file's outputs over the first's."""
    from musictag.cli.main import main

    for folder, seed in (("a", 1), ("b", 2)):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "song.wav", music_like(3.5, 16000, seed=seed), 16000)
    out = tmp_path / "out"
    argv = [
        "explain",
        str(tmp_path / "a" / "song.wav"),
        str(tmp_path / "b" / "song.wav"),
        "--model",
        str(tiny_model_dir),
        "-o",
        str(out),
        "-q",
    ]
    assert main(argv) == 0
    paths = {json.loads((out / f"{name}.json").read_text())["path"] for name in ("a-song", "b-song")}
    assert paths == {str(tmp_path / "a" / "song.wav"), str(tmp_path / "b" / "song.wav")}
    capsys.readouterr()


def test_explain_refuses_bad_outputs_and_options_before_any_work(tiny_model_dir, tmp_path, capsys, monkeypatch):
    """Defect 8 (explain): -o naming a file, or a place under /proc, gave a traceback after the work was done;
    --seeds outside the benchmark was ignored; an exported .onnx model failed late with "unknown model"."""
    from musictag.cli.main import main
    from musictag.inference import tagger as tagger_module

    clip = tmp_path / "c.wav"
    sf.write(clip, music_like(3.5, 16000), 16000)
    monkeypatch.setattr(tagger_module.Tagger, "__init__", lambda *a, **k: pytest.fail("the model was loaded"))
    for output, said in ((clip, "is a file; the output needs a folder"), ("/proc/x", "/proc/x: cannot create")):
        assert main(["explain", str(clip), "--model", str(tiny_model_dir), "-o", str(output)]) == 1
        err = capsys.readouterr().err
        assert said in err and len(err.splitlines()) == 1
    assert main(["explain", str(clip), "--model", str(tiny_model_dir), "--seeds", "3", "-o", str(tmp_path / "o")]) == 1
    assert "--seeds is an option of 'musictag explain benchmark'" in capsys.readouterr().err
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(SystemExit) as stop:
        main(["explain", str(clip), "--model", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "o")])
    assert stop.value.code == 2 and "an exported ONNX file has no gradients" in capsys.readouterr().err


def test_the_file_score_splits_exactly_into_each_patchs_share(tiny_model_dir, tmp_path):
    """Under file-score every patch's relevance sums to its probability less a silent patch's, over the
    patch count, whatever the method: the segments of a file are on one scale."""
    from musictag.models.model_folder import activate

    clip = tmp_path / "c.wav"
    sf.write(clip, music_like(9.0, 16000, seed=3), 16000)
    tagger = Tagger(tiny_model_dir)
    patches, _ = tagger.file_patches(clip)
    with torch.no_grad():
        p = activate(tagger.module.forward_features(patches)["logits"], "sigmoid")[:, 2]
        silent = activate(tagger.module.forward_features(patches[:1] * 0)["logits"], "sigmoid")[0, 2]
    shares = ((p - silent) / len(patches)).numpy()
    for method in ("occlusion", "integrated-gradients", "gradcam"):
        found = explain(tagger, str(clip), target="tag2", method=method)
        per_patch = found.relevance.reshape(len(patches), -1).sum(axis=1)
        np.testing.assert_allclose(per_patch, shares, rtol=1e-4, atol=1e-9)
        assert found.to_dict()["explains"].startswith("the file's score")
        assert sum(s["relevance"] for s in found.segments) == pytest.approx(float(shares.sum()), rel=1e-4)


def test_a_method_not_validated_on_real_recordings_needs_unvalidated(tiny_model_dir, tmp_path, capsys):
    """Offered freely: 0.9 or more on the full benchmark's 50 real splices; any other method only with
    --unvalidated, its figure in the error."""
    from musictag.explain.validation import DEFAULT_METHOD, REAL_AUC, REAL_SPLICES, VALIDATED

    from conftest import run_main

    assert max(VALIDATED, key=REAL_AUC.get) == DEFAULT_METHOD and all(REAL_AUC[m] >= 0.9 for m in VALIDATED)
    assert not set(VALIDATED) & set(REAL_SPLICES)  # LIME and KernelSHAP: 10 splices, too slow for 50 here
    clip = tmp_path / "c.wav"
    sf.write(clip, music_like(4.0, 16000), 16000)
    argv = ["explain", clip, "--model", tiny_model_dir, "-o", tmp_path / "o", "-q"]
    below = min((m for m in REAL_AUC if m not in VALIDATED), key=REAL_AUC.get)
    code, _, err = run_main(capsys, *argv, "--method", below)
    assert code == 1 and f"{below} scored {REAL_AUC[below]:.3f}" in err and "--unvalidated" in err
    assert not (tmp_path / "o").exists()
    assert run_main(capsys, *argv, "--method", below, "--unvalidated")[0] == 0
    assert run_main(capsys, *argv)[0] == 0  # the default method needs nothing
    record = json.loads((tmp_path / "o" / "c.json").read_text())
    assert record["method"] == DEFAULT_METHOD and record["explains"].startswith("the file's score")


def test_a_shares_sign_picks_the_cells_it_is_spread_over():
    """A patch scored above silence puts its share where the audio raises the score, one below silence
    where the audio lowers it; a patch with no relevance of that sign spreads evenly."""
    from musictag.explain.relevance import spread_shares

    attribution = np.array([[[1.0, -3.0], [0.0, 1.0]], [[1.0, -3.0], [0.0, -1.0]], [[1.0, 2.0], [0.0, 1.0]]])
    spread = spread_shares(attribution, np.array([0.4, -0.8, -0.2]))
    np.testing.assert_allclose(spread[0], [[0.2, 0.0], [0.0, 0.2]])
    np.testing.assert_allclose(spread[1], [[0.0, -0.6], [0.0, -0.2]])
    np.testing.assert_allclose(spread[2], np.full((2, 2), -0.05))


@pytest.mark.slow
def test_the_real_benchmark_scores_the_validated_methods_or_the_one_asked(tiny_model_dir, tmp_path, capsys):
    """`explain benchmark --real` scores every validated method beside the taggram; `--method M` scores M
    alone, an unvalidated one included (that is how its figure in --help is measured)."""
    from musictag.cli.main import main
    from musictag.explain.validation import VALIDATED

    for label, make in (
        ("tag0", lambda n: music_like(12.0, 16000, seed=n)),
        ("tag1", lambda n: music_like(12.0, 16000, seed=9 + n) * 0.3),
    ):
        for n in range(2):
            (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
            sf.write(tmp_path / "data" / label / f"{n}.wav", make(n), 16000)
    base = ["explain", "benchmark", "--real", f"folders:{tmp_path / 'data'}", "--model", str(tiny_model_dir), "-q"]
    assert main([*base, "--splices", "1", "--method", "lime", "-o", str(tmp_path / "lime")]) == 0
    result = json.loads((tmp_path / "lime" / "real.json").read_text())
    assert set(result["methods"]) == {"lime", "taggram"} and result["cases"][0]["target"] in ("tag0", "tag1")
    assert main([*base, "--splices", "1", "-o", str(tmp_path / "all")]) == 0
    assert set(json.loads((tmp_path / "all" / "real.json").read_text())["methods"]) == {*VALIDATED, "taggram"}
    assert "1 real splices; best:" in capsys.readouterr().err
