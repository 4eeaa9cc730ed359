"""Handcrafted descriptors against known values, and the classical pipeline."""

import numpy as np
import pytest

from musictag.cli.main import main
from musictag.data import open_dataset
from musictag.errors import ParameterError
from musictag.features.handcrafted import describe
from musictag.training.classical import cross_validate_classical
from musictag.training.settings import ClassicalSettings

from conftest import tone

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
    assert "3-fold accuracy 1.0000" in capsys.readouterr().out
    assert main(["train", str(recipe)]) == 1  # classical needs --folds in this version
    assert "add --folds K" in capsys.readouterr().err
