"""The six synthetic-to-real modes and the one-command experiment, on tiny synthesised data."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from musictag.cli.main import main
from musictag.data import open_dataset
from musictag.models.model_folder import load_model_folder
from musictag.synthesis.backends import ProceduralBackend
from musictag.synthesis.generate import synthesize
from musictag.training.recipe import MODES
from musictag.training.task import contrastive_loss

pytest.importorskip("tinysoundfont")

TINY = "{timbral_filters: 4, temporal_filters: 2, midend_filters: 4, backend_units: 8}"


@pytest.fixture(scope="module")
def domains(tmp_path_factory):
    """A synthetic source manifest and a 'real' target (label folders) of the same two genres."""
    root = tmp_path_factory.mktemp("domains")
    source = [
        {"id": f"{g}-{n}", "genre": g, "prompt": f"a {g} song", "seed": n}
        for g in ("metal", "reggae")
        for n in range(4)
    ]
    synthesize(source, root / "source", backend=ProceduralBackend(workers=2), duration=3.5, sample_rate=16000)
    target = [
        {"id": f"{g}-{n}", "genre": g, "prompt": f"a slow {g} song", "seed": 100 + n}
        for g in ("metal", "reggae")
        for n in range(4)
    ]
    synthesize(target, root / "target", backend=ProceduralBackend(workers=2), duration=3.5, sample_rate=16000)
    (root / "target" / "manifest.csv").unlink()  # the target is a plain folder per label
    for clip in (root / "target").rglob("*.mid"):
        clip.unlink()
    return root


@pytest.mark.slow
def test_experiment_trains_every_mode_on_every_fold(domains, capsys):
    out = domains / "exp"
    args = [
        "experiment",
        "synthetic",
        "--target",
        str(domains / "target"),
        "--source",
        str(domains / "source" / "manifest.csv"),
        "--folds",
        "2",
        "--set",
        f"neural.model={TINY}",
        "--set",
        "neural.epochs=1",
        "--set",
        "neural.feature_workers=1",
        "-o",
        str(out),
        "-q",
    ]
    assert main(args) == 0
    result = json.loads((out / "results.json").read_text())
    assert list(result["modes"]) == list(MODES) and all(len(v) == 2 for v in result["per_fold"].values())
    table = (out / "results.md").read_text()
    assert all(f"| {mode} |" in table for mode in MODES)
    assert "2 track-disjoint folds" in table and result["held_out"] == "track"  # the target names no artists
    assert table.index("excerpt accuracy") < table.index("accuracy (whole tracks)")  # a new clip's figure first
    assert all((out / f"confusion-{mode}.png").exists() for mode in MODES)
    assert (out / "embeddings.png").stat().st_size > 1000

    # TL keeps the source-trained network and learns only a new head
    source, _ = load_model_folder(out / "src_only" / "model")
    tl, _ = load_model_folder(out / "fold1" / "TL" / "model")
    for name, value in source.state_dict().items():
        if not name.startswith("classifier"):
            torch.testing.assert_close(tl.state_dict()[name], value)
    ft, _ = load_model_folder(out / "fold1" / "FT" / "model")
    assert not torch.equal(ft.state_dict()["midend.0.conv.weight"], source.state_dict()["midend.0.conv.weight"])

    # a rerun reuses every trained model
    stamp = (out / "fold2" / "DA" / "model" / "model.safetensors").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "fold2" / "DA" / "model" / "model.safetensors").stat().st_mtime_ns == stamp


def test_source_labels_must_exist_in_the_target(domains, tmp_path, capsys):
    (tmp_path / "blues").mkdir()
    clip = next((domains / "target" / "metal").glob("*.flac"))
    for n in range(2):
        (tmp_path / "blues" / f"{n}.flac").write_bytes(clip.read_bytes())
    assert open_dataset(str(tmp_path)).vocabulary == ["blues"]
    args = [
        "experiment",
        "synthetic",
        "--target",
        str(tmp_path),
        "--source",
        str(domains / "source" / "manifest.csv"),
        "--folds",
        "2",
        "--modes",
        "both",
        "-o",
        str(tmp_path / "x"),
        "-q",
    ]
    assert main(args) == 1
    assert "source labels not in the target: metal, reggae" in capsys.readouterr().err


def test_train_command_runs_one_mode_and_trains_the_source_model_it_needs(domains, tmp_path, capsys):
    real = tmp_path / "real.csv"
    clips = sorted((domains / "target").rglob("*.flac"))
    splits = ("test", "valid", "train", "train")
    real.write_text(
        "path,labels,split\n" + "".join(f"{c},{c.parent.name},{splits[n % 4]}\n" for n, c in enumerate(clips))
    )
    recipe = Path(__file__).parents[1] / "recipes" / "synthetic-musicnn.yaml"
    args = [
        "train",
        str(recipe),
        "--set",
        f"data={real}",
        "--set",
        f"neural.model={TINY}",
        "--set",
        "neural.epochs=1",
        "--set",
        "neural.feature_workers=1",
        "-q",
        "--mode",
        "FT",
        "-o",
        str(tmp_path / "runs" / "FT"),
    ]
    assert main(args) == 1
    assert "needs --source MANIFEST" in capsys.readouterr().err
    assert main([*args, "--source", str(domains / "source" / "manifest.csv")]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "runs" / "src_only" / "model" / "model.safetensors").exists()  # trained first, for FT
    _, config = load_model_folder(tmp_path / "runs" / "FT" / "model")
    assert config.labels == ["metal", "reggae"] and "test: " in printed
    assert (tmp_path / "runs" / "FT" / "test").is_dir()


def test_target_overrides_apply_to_the_modes_trained_on_the_target_alone(tmp_path):
    from musictag.errors import ParameterError
    from musictag.training.modes import mode_settings
    from musictag.training.settings import NeuralSettings

    settings = NeuralSettings(architecture="musicnn", epochs=3, crops_per_track=1, target={"crops_per_track": 6})
    for mode in ("trg_only", "TL", "FT"):
        chosen = mode_settings(mode, settings, tmp_path)
        assert (chosen.crops_per_track, chosen.epochs) == (6, 3)
    assert mode_settings("both", settings, None).crops_per_track == 1
    ft = mode_settings("FT", settings, tmp_path)
    assert ft.init == str(tmp_path) and ft.backbone_lr == settings.lr / 2  # the layers below the head at half the rate
    assert mode_settings("FT", replace(settings, backbone_lr=1e-5), tmp_path).backbone_lr == 1e-5  # unless set
    with pytest.raises(ParameterError, match="unknown neural.target settings: crops"):
        NeuralSettings(architecture="musicnn", target={"crops": 2})


def test_contrastive_loss_pulls_same_genre_and_pushes_others_to_the_margin():
    east, west, north = torch.tensor([[3.0, 0.0]]), torch.tensor([[-0.5, 0.0]]), torch.tensor([[0.0, 7.0]])
    same, other = torch.ones(1), torch.zeros(1)
    assert contrastive_loss(east, 10 * east, same).item() == pytest.approx(0.0, abs=1e-6)  # same direction
    assert contrastive_loss(east, west, other).item() == pytest.approx(0.0, abs=1e-6)  # a diameter apart: margin
    assert contrastive_loss(east, west, same).item() == pytest.approx(4.0)  # squared diameter
    assert contrastive_loss(east, north, other).item() == pytest.approx((2 - 2**0.5) ** 2)
    # the scale of the features does not matter, only their directions
    a, b, labels = torch.randn(8, 64), torch.randn(8, 64), (torch.arange(8) % 2).float()
    torch.testing.assert_close(contrastive_loss(30 * a, b, labels), contrastive_loss(a, 0.1 * b, labels))


def test_the_synthetic_genre_recipe_learns_from_the_clips_alone(domains, pretrained_weights, monkeypatch, tmp_path):
    from musictag import Tagger

    monkeypatch.setenv("MUSICTAG_CACHE", str(pretrained_weights))  # the frozen MSD-musicnn backbone
    out = tmp_path / "runs" / "synthetic-genre"
    args = [
        "train",
        "recipes/synthetic-genre.yaml",
        "--set",
        f"data={domains / 'source' / 'manifest.csv'}",
        "-o",
        str(out),
        "-q",
    ]
    assert main(args) == 0
    fit = json.loads((out / "model" / "config.json").read_text())["info"]["fit"]
    assert fit["C"] == 0.0003 and "inner_cv_crop_accuracy" not in fit  # fixed, not chosen on synthetic clips
    target = open_dataset(str(domains / "target"))  # other clips, other prompts, never trained on
    tagger = Tagger(out / "model")
    assert tagger.labels == ["metal", "reggae"]
    predicted = [tagger.labels[r.scores.argmax()] for r in tagger.tag_many([i.path for i in target.items])]
    assert predicted == [target.vocabulary[t] for t in target.targets()]
