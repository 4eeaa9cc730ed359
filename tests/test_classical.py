"""Handcrafted descriptors against known values, and the classical pipeline."""

import json

import numpy as np
import pytest

from musictag import Tagger
from musictag.cli.main import main
from musictag.data import Item, open_dataset
from musictag.errors import MusictagError, ParameterError
from musictag.features.handcrafted import describe
from musictag.training.classical import cross_validate_classical, fit_pipeline, track_descriptors, train_classical
from musictag.training.settings import ClassicalSettings

from conftest import noise, tone

SR = 22050


def value(vector, names, name):
    return float(vector[names.index(name)])


def test_descriptors_of_a_pure_tone():
    y = tone(3.0, SR, 1000.0, amp=0.5)
    vector, names = describe(y, SR)
    assert len(vector) == len(names) and np.isfinite(vector).all()
    assert value(vector, names, "centroid0_mean") == pytest.approx(1000, rel=0.03)
    assert value(vector, names, "rolloff0_mean") == pytest.approx(1000, rel=0.03)
    assert value(vector, names, "zcr0_mean") == pytest.approx(2 * 1000 / SR, rel=0.05)
    assert value(vector, names, "rms0_mean") == pytest.approx(0.5 / np.sqrt(2), rel=0.03)
    chroma = [value(vector, names, f"chroma{i}_mean") for i in range(12)]
    assert int(np.argmax(chroma)) == round(12 * np.log2(1000 / 440) + 69) % 12  # B (pitch class 11)


def test_tempo_of_a_click_track():
    y = np.zeros(SR * 8, np.float32)
    for beat in range(16):  # 120 BPM
        start = int(beat * 0.5 * SR)
        y[start : start + 200] = np.hanning(200)
    vector, names = describe(y, SR, groups=("rms", "tempo"))
    assert names[-1] == "tempo" and vector[-1] == pytest.approx(120, rel=0.04)
    assert names[:2] == ["rms0_mean", "rms0_std"]
    with pytest.raises(ParameterError, match="unknown feature groups"):
        describe(y, SR, groups=("loudness",))


def test_classical_cross_validation(tmp_path, write_audio, capsys):
    rng = np.random.default_rng(0)
    for n in range(6):
        write_audio(f"d/low/{n}.wav", tone(2.0, SR, 100 + 10 * n), SR)
        write_audio(f"d/noisy/{n}.wav", (0.2 * rng.standard_normal(2 * SR)).astype(np.float32), SR)
    dataset = open_dataset(str(tmp_path / "d"))
    result = cross_validate_classical(dataset, ClassicalSettings(inner_folds=2), folds=3)
    assert result["summary"]["accuracy"]["mean"] == 1.0 and len(result["per_fold"]) == 3
    recipe = tmp_path / "svm.yaml"
    recipe.write_text(f"kind: classical\ndata: {tmp_path / 'd'}\nclassical:\n  classifier: logreg\n")
    assert main(["train", str(recipe), "--folds", "3", "-o", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "3-fold track-disjoint accuracy 1.0000" in out and (tmp_path / "run" / "model" / "model.skops").is_file()
    assert main(["train", str(recipe), "-o", str(tmp_path / "all")]) == 0  # no folds: a model from every item
    assert "model: " in capsys.readouterr().out
    # with artists named (a manifest's group column), the folds hold artists out and say so, excerpts first
    rows = [f"{tmp_path}/d/{kind}/{n}.wav,{kind},{kind}-artist{n % 3}" for kind in ("low", "noisy") for n in range(6)]
    (tmp_path / "artists.csv").write_text("path,labels,group\n" + "\n".join(rows) + "\n")
    args = ["train", str(recipe), "--set", f"data=manifest:{tmp_path / 'artists.csv'}", "--folds", "3"]
    assert main([*args, "-o", str(tmp_path / "by-artist")]) == 0
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if "-fold" in line]
    assert "3-fold artist-disjoint accuracy on 4 excerpts of 2-3 s" in lines[0] and "artist-disjoint" in lines[1]
    assert json.loads((tmp_path / "by-artist" / "cv.json").read_text())["held_out"] == "artist"
    assert "hold out tracks, not artists" not in err


@pytest.fixture
def low_or_noisy(tmp_path, write_audio):
    rng = np.random.default_rng(0)
    for n in range(6):
        write_audio(f"d/low/{n}.wav", tone(2.0, SR, 100 + 10 * n), SR)
        write_audio(f"d/noisy/{n}.wav", (0.2 * rng.standard_normal(2 * SR)).astype(np.float32), SR)
    return open_dataset(str(tmp_path / "d"))


@pytest.mark.parametrize("classifier", ["svm", "logreg"])
def test_a_saved_classical_model_tags_with_the_fitted_pipelines_probabilities(
    low_or_noisy, tmp_path, write_audio, classifier
):
    settings = ClassicalSettings(classifier=classifier, inner_folds=2, Cs=[1.0, 10.0], gammas=["scale"])
    folder = train_classical(low_or_noisy, low_or_noisy.items, settings, tmp_path / "model", name="svm")
    new = [write_audio("new/a.wav", tone(3.0, SR, 140), SR), write_audio("new/b.wav", noise(3.0, SR, 9, amp=0.2), SR)]
    descriptors = track_descriptors([Item(str(p), p, ()) for p in new], settings)
    pipeline, _ = fit_pipeline(
        np.stack([d for d in track_descriptors(low_or_noisy.items, settings).values()]),
        low_or_noisy.targets(),
        settings,
    )
    x = np.stack(list(descriptors.values()))
    if classifier == "logreg":
        expected = pipeline.predict_proba(x)
    else:  # the softmax of the two classes' margins -d/2 and d/2
        expected = 1 / (1 + np.exp(-np.outer(pipeline.decision_function(x), [-1, 1])))
    tagger = Tagger(folder)
    got = np.stack([result.scores for result in tagger.tag_many(new)])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert tagger.labels == ["low", "noisy"] and got.argmax(1).tolist() == [0, 1]
    assert tagger.sample_rate == SR  # excerpts are cut from audio decoded at the descriptors' rate
    assert main(["tag", str(new[0]), "--model", str(folder), "--format", "json", "-q"]) == 0


def test_no_model_load_path_unpickles(low_or_noisy, tmp_path, tiny_model_dir, monkeypatch):
    import pickle

    import torch

    settings = ClassicalSettings(inner_folds=2, Cs=[1.0], gammas=["scale"])
    folder = train_classical(low_or_noisy, low_or_noisy.items, settings, tmp_path / "m")

    def refuse(*args, **kwargs):
        raise AssertionError("a model load path unpickled")

    class Refusing(pickle.Unpickler):
        def load(self):
            refuse()

    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", Refusing)
    monkeypatch.setattr(torch, "load", refuse)
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: refuse() if k.get("allow_pickle") else real_load(*a, **k))
    clip = low_or_noisy.items[0].path
    for model in (folder, tiny_model_dir):
        assert Tagger(model).tag(clip).scores.shape == (len(Tagger(model).labels),)


def test_a_classical_file_with_untrusted_types_is_refused(low_or_noisy, tmp_path):
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    folder = train_classical(
        low_or_noisy, low_or_noisy.items, ClassicalSettings(classifier="logreg", inner_folds=2), tmp_path / "m"
    )
    (folder / "model.skops").write_bytes(sio.dumps(RandomForestClassifier(n_estimators=2).fit([[0], [1]], [0, 1])))
    with pytest.raises(MusictagError, match="not trusted"):
        Tagger(folder)
