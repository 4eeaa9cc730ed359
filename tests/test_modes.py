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


def test_batch_norm_adapts_to_the_statistics_of_reference_inputs_and_nothing_else():
    """AdaBN: each batch-norm layer keeps the mean and variance of what it sees on the reference
    batches (a cumulative average over them); weights, dropout and eval mode are as before."""
    from musictag.training.adapt import adapt_batch_norm

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Dropout(0.5))
    net.eval()
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k}
    batches = [torch.randn(8, 3) * 2 + 5 for _ in range(3)]
    assert adapt_batch_norm(net, [*batches, torch.randn(1, 3)]) == 24  # a lone input has no variance: skipped
    with torch.no_grad():
        seen = [net[0](b) for b in batches]
    torch.testing.assert_close(net[1].running_mean, torch.stack([s.mean(0) for s in seen]).mean(0))
    torch.testing.assert_close(net[1].running_var, torch.stack([s.var(0) for s in seen]).mean(0))
    assert not net.training and net[1].momentum == 0.1
    for key, value in weights.items():
        torch.testing.assert_close(net.state_dict()[key], value)


@pytest.mark.slow
def test_a_network_trained_on_synthetic_clips_adapts_its_batch_norm_to_real_reference_audio(domains, tmp_path):
    base = ["train", "synthetic-musicnn", "--set", f"data={domains / 'source' / 'manifest.csv'}"]
    base += ["--set", f"neural.model={TINY}", "--set", "neural.epochs=1", "--set", "neural.feature_workers=1", "-q"]
    assert main([*base, "-o", str(tmp_path / "plain")]) == 0
    reference = ["--set", f"neural.reference=files:{domains / 'target'}"]  # real audio, its labels unused
    assert main([*base, *reference, "-o", str(tmp_path / "adapted")]) == 0
    plain, _ = load_model_folder(tmp_path / "plain" / "model")
    adapted, config = load_model_folder(tmp_path / "adapted" / "model")
    assert config.info["batch_norm_reference"] == {"items": 8, "patches": 8}  # eight 3.5-s clips: a patch each
    from musictag.inference.model import LoadedModel

    loaded = LoadedModel.open(tmp_path / "adapted" / "model")
    patches = torch.cat([loaded.file_patches(p)[0] for p in sorted((domains / "target").rglob("*.flac"))])
    torch.testing.assert_close(adapted.input_bn.running_mean, patches.mean().reshape(1), rtol=1e-4, atol=1e-4)
    for key, value in plain.state_dict().items():  # the same training, only the statistics differ
        if "running" not in key and "num_batches" not in key:
            torch.testing.assert_close(adapted.state_dict()[key], value)


def test_a_reference_without_audio_fails_before_training(domains, tmp_path, capsys):
    listed = tmp_path / "elsewhere" / "reference.csv"  # relative paths resolve against the manifest's folder
    listed.parent.mkdir()
    listed.write_text("path,labels\nmissing/a.flac,\nmissing/b.flac,\n")
    run = ["train", "synthetic-musicnn", "--set", f"data={domains / 'source' / 'manifest.csv'}", "-q"]
    assert main([*run, "--set", f"neural.reference=manifest:{listed}", "-o", str(tmp_path / "run")]) != 0
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "neural.reference" in error and "2 left out" in error and "a.flac" in error
    assert not (tmp_path / "run" / "model").exists()


@pytest.mark.slow
def test_synth_n_renders_its_clips_once_into_the_cache(tmp_path, monkeypatch, capsys):
    from musictag.errors import ParameterError
    from musictag.training.synthetic_source import synthetic_manifest

    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    manifest = synthetic_manifest("synth:2?seed=1", ["metal", "reggae"])
    data = open_dataset(str(manifest))
    assert sorted(item.labels[0] for item in data.items) == ["metal", "metal", "reggae", "reggae"]
    assert (
        manifest.is_relative_to(tmp_path / "cache" / "synthetic")
        and "rendered 4 synthetic clips" in capsys.readouterr().err
    )
    stamps = {p: p.stat().st_mtime_ns for p in manifest.parent.rglob("*.flac")}
    assert synthetic_manifest("synth:2?seed=1", ["metal", "reggae"]) == manifest  # a rerun renders nothing
    assert {p: p.stat().st_mtime_ns for p in manifest.parent.rglob("*.flac")} == stamps
    assert "rendered" not in capsys.readouterr().err
    for bad in ("synth:x", "synth:0", "synth:2?sead=1"):
        with pytest.raises(ParameterError, match="synth:N"):
            synthetic_manifest(bad, ["metal"])
    with pytest.raises(ParameterError, match="no style for ambient .*transfer.extra"):
        synthetic_manifest("synth:2", ["ambient", "metal"])
