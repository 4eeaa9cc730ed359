"""Lightning training of zoo models: learning, export, resume, multi-label recipes, DDP, init, freezing."""

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from musictag import Tagger
from musictag.cli.main import main
from musictag.data import open_dataset
from musictag.errors import ParameterError
from musictag.models.model_folder import load_model_folder
from musictag.training.neural import plan_model, train_neural
from musictag.training.settings import NeuralSettings

from conftest import noise, tone, write_annotations

TINY_SHORTCHUNK = {"channels": [8, 16, 16], "dense": 16}


@pytest.fixture
def tones_and_noise(tmp_path, write_audio):
    for n in range(6):
        write_audio(f"two/tones/t{n}.wav", tone(3.0, 16000, 150 + 40 * n), 16000)
        write_audio(f"two/noise/n{n}.wav", noise(3.0, 16000, n), 16000)
    return open_dataset(str(tmp_path / "two"))


def _settings(**changes):
    values = dict(
        architecture="shortchunk-cnn",
        frontend="shortchunk",
        model=TINY_SHORTCHUNK,
        patch_seconds=1.0,
        epochs=6,
        batch_size=8,
        crops_per_track=4,
        lr=3e-3,
        feature_workers=1,
    )
    return NeuralSettings(**{**values, **changes})


def test_trained_model_folder_tags_like_a_pretrained_model(tones_and_noise, tmp_path):
    data = tones_and_noise
    settings = _settings(loggers=["tensorboard"])
    folder = train_neural(data, settings, tmp_path / "run", train=data.items, valid=data.items, quiet=True)
    tagger = Tagger(folder)
    assert tagger.labels == ["noise", "tones"] and tagger.config.activation == "softmax"
    results = list(tagger.tag_many([item.path for item in data.items]))
    scores = np.stack([r.scores for r in results])
    np.testing.assert_allclose(scores.sum(1), 1.0, atol=1e-5)  # class probabilities
    assert (scores.argmax(1) == data.targets()).mean() == 1.0
    info = tagger.config.info
    assert info["valid_metric"] == 1.0 and info["settings"]["architecture"] == "shortchunk-cnn"
    logged = (tmp_path / "run" / "logs" / "version_0" / "metrics.csv").read_text()
    assert "train/loss" in logged and "valid/metric" in logged
    assert list((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))


def test_interrupted_training_resumes_from_the_last_epoch(tones_and_noise, tmp_path):
    data, out = tones_and_noise, tmp_path / "run"
    train_neural(data, _settings(epochs=2), out, train=data.items, quiet=True)
    assert (out / "checkpoints" / "last.ckpt").exists()
    train_neural(data, _settings(epochs=3), out, train=data.items, quiet=True)  # as if the first run was cut short
    second = (out / "logs" / "version_1" / "metrics.csv").read_text().splitlines()
    epochs = {line.split(",")[0] for line in second[1:]}
    assert epochs == {"2"}  # only the missing epoch ran
    _, config = load_model_folder(out / "model")
    assert config.info["epochs"] == 3


def test_same_seed_same_model(tones_and_noise, tmp_path):
    data = tones_and_noise
    runs = [train_neural(data, _settings(epochs=1), tmp_path / f"r{i}", train=data.items, quiet=True) for i in (0, 1)]
    first, second = (load_model_folder(folder)[0].state_dict() for folder in runs)
    for name, value in first.items():
        torch.testing.assert_close(value, second[name])


@pytest.fixture
def audible_mtt(tmp_path, write_audio):
    """An MTT-shaped archive whose tags can be heard: low tone, high tone, noise, clicks."""
    tags = ["low", "high", "noisy", "clicks"]
    rows, rng = [], np.random.default_rng(1)
    for i in range(64):
        present = [t for t in tags if rng.random() < 0.5] or ["low"]
        audio = np.zeros(2 * 16000, np.float32)
        if "low" in present:
            audio += tone(2, 16000, 120 + 3 * i)
        if "high" in present:
            audio += tone(2, 16000, 2500 + 30 * i)
        if "noisy" in present:
            audio += 0.5 * noise(2, 16000, i)
        if "clicks" in present:
            for start in range(0, len(audio), 16000 // 8):  # 5 ms bursts, eight a second
                audio[start : start + 80] += 0.8 * np.hanning(80)[: len(audio) - start]
        mp3 = f"{'0123456789abcdef'[i % 16]}/artist-{i}-0-29.mp3"
        write_audio(f"mtt/{mp3}", audio, 16000, format="WAV")  # a WAV under an .mp3 name decodes by content
        rows.append((str(i), present, mp3))
    write_annotations(tmp_path / "mtt" / "annotations_final.csv", tags, rows)
    return tmp_path / "mtt"


@pytest.mark.parametrize(
    ("recipe", "overrides"),
    [
        (
            "mtt-musicnn",
            [
                "neural.model={timbral_filters: 8, temporal_filters: 4, midend_filters: 8, backend_units: 16}",
                "neural.patch_seconds=1.0",
                "neural.lr=3e-3",
                "neural.epochs=12",
                "neural.batch_size=8",
            ],
        ),
        (
            "mtt-multiscale-cnn",
            [
                "neural.model={width: 8, hidden: 32, dropout: 0.0}",
                "neural.patch_seconds=3.0",
                "neural.lr=2e-3",
                "neural.epochs=12",
                "neural.milestones=[10]",
                "neural.crops_per_track=2",
                "neural.batch_size=8",
            ],
        ),
    ],
)
@pytest.mark.slow
def test_mtt_recipes_run_end_to_end_and_report_auc(recipe, overrides, audible_mtt, tmp_path, capsys):
    out = tmp_path / recipe
    args = [
        "train",
        f"recipes/{recipe}.yaml",
        "--set",
        f"data=mtt:{audible_mtt}?split=folders&top=4",
        "-o",
        str(out),
        "-q",
        "--set",
        "neural.feature_workers=1",
    ] + [x for o in overrides for x in ("--set", o)]
    assert main(args) == 0
    metrics = json.loads((out / "test" / "metrics.json").read_text())
    assert metrics["task"] == "multi-label" and set(metrics["per_tag"]) == {"low", "high", "noisy", "clicks"}
    assert metrics["roc_auc"] > 0.95 and metrics["pr_auc"] > 0.9
    assert (out / "test" / "report.md").exists()
    assert Tagger(out / "model").config.activation == "sigmoid"


@pytest.mark.slow
def test_distributed_data_parallel_on_two_cpu_processes(tones_and_noise, tmp_path):
    """The same recipe under DDP: two CPU processes with gloo, one model folder written by rank 0."""
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        json.dumps(
            {  # JSON is YAML
                "name": "tiny",
                "kind": "neural",
                "data": str(tmp_path / "two") + "?split=random&fractions=0.6,0.4,0",
                "neural": asdict(_settings(epochs=2)),
            }
        )
    )
    script = Path(sys.executable).with_name("musictag")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "musictag"]
    done = subprocess.run(
        [
            *command,
            "train",
            str(recipe),
            "-o",
            str(tmp_path / "ddp"),
            "-q",
            "--devices",
            "2",
            "--strategy",
            "ddp",
            "--accelerator",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    logged = (tmp_path / "ddp" / "logs" / "version_0" / "metrics.csv").read_text().splitlines()
    assert logged[0].startswith("epoch") and len(logged) > 2
    assert Tagger(tmp_path / "ddp" / "model").labels == ["noise", "tones"]


def test_init_from_a_model_folder_copies_all_but_the_classifier(tiny_model_dir, capsys):
    plan = plan_model(NeuralSettings(init=str(tiny_model_dir), freeze=["timbral"]), ["a", "b"])
    start, _ = load_model_folder(tiny_model_dir)
    mine, theirs = plan.model.state_dict(), start.state_dict()
    assert mine["classifier.weight"].shape[0] == 2
    for name, value in theirs.items():
        if not name.startswith("classifier"):
            torch.testing.assert_close(mine[name], value)
    assert "new: classifier.bias, classifier.weight" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="cannot freeze"):
        plan_model(NeuralSettings(init=str(tiny_model_dir), freeze=["nope"]), ["a", "b"])


def test_frozen_layers_do_not_change(tones_and_noise, tmp_path, tiny_model_dir):
    data = tones_and_noise
    settings = NeuralSettings(
        init=str(tiny_model_dir),
        freeze=["input_bn", "timbral", "temporal"],
        epochs=1,
        patch_seconds=1.0,
        batch_size=8,
        crops_per_track=2,
        feature_workers=1,
    )
    folder = train_neural(data, settings, tmp_path / "ft", train=data.items, quiet=True)
    trained = load_model_folder(folder)[0].state_dict()
    start = load_model_folder(tiny_model_dir)[0].state_dict()
    for name in start:
        if name.startswith(("timbral", "temporal", "input_bn")):
            torch.testing.assert_close(trained[name], start[name])  # weights and batch-norm statistics
    assert not torch.equal(trained["midend.0.conv.weight"], start["midend.0.conv.weight"])


def test_fixed_size_models_reject_a_patch_of_the_wrong_length():
    with pytest.raises(ParameterError, match="takes 100 frames"):
        plan_model(
            NeuralSettings(
                architecture="ast",
                frontend="ast",
                patch_seconds=3.0,
                model={
                    "config": {
                        "hidden_size": 16,
                        "num_hidden_layers": 1,
                        "num_attention_heads": 1,
                        "intermediate_size": 16,
                        "max_length": 100,
                    }
                },
            ),
            ["a"],
        )


def test_ast_frozen_recipe_trains_only_the_head(tones_and_noise, tmp_path):
    pytest.importorskip("transformers")
    tiny = (
        "{freeze: backbone, config: {hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 1, "
        "intermediate_size: 16, max_length: 100}}"
    )
    out = tmp_path / "ast"
    data = f"data={tmp_path / 'two'}?split=random&fractions=0.7,0.3,0"
    args = [
        "train",
        "recipes/gtzan-ast-frozen.yaml",
        "--set",
        data,
        "--set",
        f"neural.model={tiny}",
        "--set",
        "neural.patch_seconds=1.0",
        "--set",
        "neural.epochs=1",
        "--set",
        "neural.feature_workers=1",
        "-o",
        str(out),
        "-q",
    ]
    assert main(args) == 0
    model, config = load_model_folder(out / "model")
    assert config.architecture == "ast" and config.model["freeze"] == "backbone" and config.patch_frames == 100
    assert Tagger(out / "model").tag(tones_and_noise.items[0].path).scores.shape == (2,)
