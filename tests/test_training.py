"""Transfer heads, cross-validation, metrics, reports and the train/evaluate/compare commands."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from musictag import Tagger
from musictag.cli.main import main
from musictag.data import open_dataset
from musictag.errors import ParameterError
from musictag.evaluation.metrics import classification_metrics, tagging_metrics
from musictag.evaluation.report import write_report
from musictag.evaluation.scoring import Excerpts
from musictag.features.config import MUSICNN
from musictag.models.config import ModelConfig
from musictag.models.model_folder import save_model_folder
from musictag.models.zoo import build_model
from musictag.training.fit_head import (
    ReferenceRows,
    _pseudo_labelled,
    cross_validate_transfer,
    embed_tracks,
    extra_rows,
    fit_head,
    head_scores,
    train_transfer,
)
from musictag.training.recipe import Recipe
from musictag.training.settings import TransferSettings

from conftest import music_like, noise, run_main, tone


@pytest.fixture
def two_classes(tmp_path, write_audio):
    """Low sine tones versus white noise: separable for any sensible embedding."""
    for n in range(6):
        write_audio(f"two/tones/t{n}.wav", tone(3.5, 16000, 110 + 15 * n), 16000)
        write_audio(f"two/noise/n{n}.wav", noise(3.5, 16000, n), 16000)
    return tmp_path / "two"


@pytest.fixture
def settings(tiny_model_dir):
    return TransferSettings(
        backbones=[str(tiny_model_dir)], layers=["penultimate", "max_pool"], hop=1.0, inner_folds=2, samples="tracks"
    )


def test_transfer_model_folder_reproduces_the_fitted_head(two_classes, settings, tmp_path):
    dataset = open_dataset(str(two_classes))
    samples = embed_tracks(dataset.items, settings)
    folder = train_transfer(dataset, dataset.items, settings, tmp_path / "model", samples=samples)
    x = np.stack([samples[i.id].patches.mean(0) for i in dataset.items])
    expected = head_scores(x, fit_head(x, dataset.targets(), dataset.task, settings), dataset.task)
    tagger = Tagger(folder)
    assert tagger.labels == ["noise", "tones"] and tagger.hop_frames == round(1.0 / 0.016)
    got = np.stack([r.scores for r in tagger.tag_many([i.path for i in dataset.items])])
    np.testing.assert_allclose(got, expected, atol=1e-4)  # same probabilities through `musictag tag`
    assert (got.argmax(1) == dataset.targets()).mean() == 1.0


def test_cross_validation_on_separable_classes(two_classes, settings):
    result = cross_validate_transfer(open_dataset(str(two_classes)), settings, folds=3, seed=0)
    assert result["headline"] == "accuracy" and len(result["per_fold"]) == 3
    assert result["summary"]["accuracy"]["mean"] == 1.0
    assert sum(m["n"] for m in result["per_fold"]) == 12


def test_multi_label_head_reaches_high_roc_auc(tmp_path, write_audio, settings):
    """Tags 'low' (a low tone), 'noisy' (added noise) and 'high' (a high tone), in combinations."""
    rows = ["path,labels"]
    rng = np.random.default_rng(0)
    for n in range(24):
        tags = [t for t in ("low", "noisy", "high") if rng.random() < 0.5] or ["low"]
        audio = np.zeros(16000 * 4, np.float32)
        if "low" in tags:
            audio += tone(4, 16000, 150 + 5 * n)
        if "high" in tags:
            audio += tone(4, 16000, 3000 + 20 * n)
        if "noisy" in tags:
            audio += noise(4, 16000, n)
        write_audio(f"ml/{n}.wav", audio, 16000)
        rows.append(f"{n}.wav,{';'.join(tags)}")
    (tmp_path / "ml" / "tags.csv").write_text("\n".join(rows) + "\n")
    dataset = open_dataset(str(tmp_path / "ml" / "tags.csv"))
    assert dataset.task == "multi-label"
    result = cross_validate_transfer(dataset, settings, folds=3, seed=0)
    assert result["headline"] == "roc_auc" and result["summary"]["roc_auc"]["mean"] > 0.95


def test_metrics_against_known_numbers():
    targets = np.array([0, 0, 1, 1, 2, 2])
    scores = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    m = classification_metrics(targets, scores, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["b"] == {
        "precision": pytest.approx(2 / 3),
        "recall": 1.0,
        "f1": pytest.approx(0.8),
        "support": 2,
    }
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    multi_t = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    multi_s = np.array([[0.9, 0.2], [0.1, 0.8], [0.6, 0.3], [0.3, 0.1]])
    t = tagging_metrics(multi_t, multi_s, ["x", "y"])
    assert t["per_tag"]["y"]["roc_auc"] == pytest.approx(roc_auc_score(multi_t[:, 1], multi_s[:, 1]))
    assert t["roc_auc"] == pytest.approx((1.0 + roc_auc_score(multi_t[:, 1], multi_s[:, 1])) / 2)


def test_report_files(tmp_path):
    metrics = classification_metrics(np.array([0, 1, 1]), np.eye(2)[[0, 1, 0]], ["a", "b"])
    write_report(metrics, tmp_path / "rep", title="t")
    assert json.loads((tmp_path / "rep" / "metrics.json").read_text())["accuracy"] == pytest.approx(2 / 3)
    assert "| b | 1.000 | 0.500 |" in (tmp_path / "rep" / "report.md").read_text()
    assert (tmp_path / "rep" / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_recipe_overrides(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("kind: transfer\ndata: x\ntransfer:\n  hop: 3\n")
    loaded = Recipe.load(recipe, ["transfer.hop=1.5", "transfer.layers=[penultimate]", "folds=5"])
    assert loaded.values["transfer"] == {"hop": 1.5, "layers": ["penultimate"]} and loaded.folds == 5
    assert (loaded.settings.hop, loaded.settings.layers) == (1.5, ["penultimate"])
    assert loaded.name == "r"
    with pytest.raises(ParameterError, match="key=value"):
        Recipe.load(recipe, ["novalue"])
    (tmp_path / "bad.yaml").write_text("data: x\n")
    with pytest.raises(ParameterError, match="needs 'kind'"):
        Recipe.load(tmp_path / "bad.yaml")


def test_the_run_seed_seeds_training_unless_the_section_sets_its_own(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("kind: transfer\ndata: x\nseed: 3\n")
    assert Recipe.load(recipe).settings.seed == 3
    assert Recipe.load(recipe, ["seed=4"]).settings.seed == 4  # --set seed=N changes the training too
    assert Recipe.load(recipe, ["seed=4", "transfer.seed=1"]).settings.seed == 1
    assert Recipe.load(recipe).values.get("transfer") is None  # the recipe as written is kept as written


def test_train_evaluate_compare_commands(two_classes, tiny_model_dir, tmp_path, capsys):
    recipe = tmp_path / "rec.yaml"
    recipe.write_text(
        f"name: tiny-transfer\nkind: transfer\ndata: {two_classes}\n"
        f"transfer:\n  backbones: [{tiny_model_dir}]\n  hop: 1.0\n  inner_folds: 2\n"
    )
    assert main(["train", str(recipe), "--folds", "3", "-o", str(tmp_path / "run-cv")]) == 0
    assert "3-fold track-disjoint accuracy 1.0000" in capsys.readouterr().out
    spec = f"folders:{two_classes}?split=random&fractions=0.5,0,0.5&seed=1"
    assert main(["train", str(recipe), "--set", f"data={spec}", "-o", str(tmp_path / "run-split")]) == 0
    out = capsys.readouterr().out
    assert "test: 1.0000" in out and (tmp_path / "run-split" / "test" / "confusion.png").exists()
    model = tmp_path / "run-split" / "model"
    assert main(["evaluate", str(model), "--data", spec, "--split", "test", "-o", str(tmp_path / "ev")]) == 0
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["accuracy"] == 1.0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "run-cv"), str(tmp_path / "ev"), "-o", str(tmp_path / "table.md")]) == 0
    table = capsys.readouterr().out
    assert "| tiny-transfer | 3-fold CV | 1.0000 ± 0.0000 |" in table and "| tiny-transfer | test | 1.0000 |" in table
    assert main(["tag", str(two_classes / "noise" / "n0.wav"), "--model", str(model), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["tags"][0]["tag"] == "noise"
    recipe.write_text("kind: short-chunk\ndata: x\n")
    assert main(["train", str(recipe)]) == 1


def test_near_constant_features_do_not_steer_the_head(settings):
    """A dead unit (constant up to 1e-14 rounding noise that happens to follow the labels) is no feature."""
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 20)
    x = rng.normal(size=(40, 4))
    x[:, 0] += 1.5 * y
    dead = 2e-6 + 1e-14 * (2 * y - 1)
    head = fit_head(np.column_stack([x, dead]), y, "single-label", settings)
    reference = fit_head(x, y, "single-label", settings)
    held_out = rng.normal(size=(10, 4))
    got = head_scores(np.column_stack([held_out, np.full(10, 2e-6 + 1e-14)]), head, "single-label")
    np.testing.assert_allclose(got, head_scores(held_out, reference, "single-label"), atol=1e-9)
    assert head.chosen["constant_features"] == 1 and not head.layers[0][0][:, -1].any()


def test_embeddings_are_computed_once_per_file_and_settings(two_classes, settings, monkeypatch, write_audio):
    """Training again (another head, another reference, a stopped run) reads the backbones' embeddings
    back from the cache; other settings or other audio bytes are computed anew."""
    dataset = open_dataset(str(two_classes))
    patch_settings = replace(settings, samples="patches", crops=2)
    first = embed_tracks(dataset.items, patch_settings)
    runs = []
    monkeypatch.setattr(Tagger, "embed", lambda self, *a, **k: runs.append(1) or pytest.fail("not from the cache"))
    again = embed_tracks(dataset.items, patch_settings)
    assert list(again) == list(first) and not runs
    for key in first:
        np.testing.assert_array_equal(again[key].patches, first[key].patches)
        np.testing.assert_array_equal(again[key].crops, first[key].crops)
    monkeypatch.undo()
    tone_id, noise_id = (next(i.id for i in dataset.items if i.path.name == name) for name in ("t0.wav", "n0.wav"))
    write_audio("two/tones/t0.wav", tone(3.5, 16000, 440), 16000)  # new bytes under an old name
    changed = embed_tracks(dataset.items, patch_settings)
    assert not np.allclose(changed[tone_id].patches, first[tone_id].patches)
    np.testing.assert_array_equal(changed[noise_id].crops, first[noise_id].crops)
    other_hop = embed_tracks(dataset.items, replace(patch_settings, hop=0.5))
    assert len(other_hop[noise_id].patches) > len(first[noise_id].patches)


def test_perturbed_crops_follow_each_tracks_plain_crops(two_classes, settings):
    """Issue 34: ``transfer.perturbed_crops`` adds crops of the track played as another recording might
    sound; the plain crops and patches stay as they were, and neither kind is taken for the other."""
    dataset = open_dataset(str(two_classes))
    plain = embed_tracks(dataset.items, replace(settings, samples="patches", crops=2))
    more = embed_tracks(dataset.items, replace(settings, samples="patches", crops=2, perturbed_crops=3))
    for key, samples in plain.items():
        assert more[key].crops.shape == (5, samples.crops.shape[1])
        np.testing.assert_allclose(more[key].crops[:2], samples.crops, atol=1e-5)  # batched with others
        np.testing.assert_array_equal(more[key].patches, samples.patches)
        assert not np.isclose(more[key].crops[2:, None], samples.crops[None], atol=1e-3).all(axis=-1).any()
    with pytest.raises(ParameterError, match="perturbed_crops"):
        replace(settings, perturbed_crops=-1)


def test_saved_head_reproduces_the_fitted_head_on_held_out_audio(two_classes, settings, tmp_path, write_audio):
    dataset = open_dataset(str(two_classes))
    samples = embed_tracks(dataset.items, settings)
    folder = train_transfer(dataset, dataset.items, settings, tmp_path / "model", samples=samples)
    fitted = fit_head(
        np.stack([samples[i.id].patches.mean(0) for i in dataset.items]), dataset.targets(), dataset.task, settings
    )
    for n, seconds in enumerate((2.5, 4.0, 7.3)):  # other tones, other noise, other lengths
        write_audio(f"new/tones/t{n}.wav", tone(seconds, 22050, 130 + 25 * n), 22050)
        write_audio(f"new/noise/n{n}.wav", noise(seconds, 22050, 50 + n), 22050)
    new = open_dataset(str(tmp_path / "new"))
    held_out = embed_tracks(new.items, settings)
    expected = head_scores(np.stack([held_out[i.id].patches.mean(0) for i in new.items]), fitted, new.task)
    got = np.stack([r.scores for r in Tagger(folder).tag_many([i.path for i in new.items])])
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.fixture
def tiny_vgg_dir(tmp_path):
    torch.manual_seed(1)
    model = build_model("vgg", n_classes=5, filters=4).eval()
    config = ModelConfig(
        name="tiny-vgg",
        architecture="vgg",
        labels=[f"t{i}" for i in range(5)],
        model={"n_classes": 5, "filters": 4},
        frontend=MUSICNN.to_dict(),
    )
    return save_model_folder(tmp_path / "vgg", config, model.state_dict())


@pytest.mark.parametrize("heads", [["logreg"], ["mlp"]])
def test_patch_heads_on_two_backbones_score_a_short_clip_exactly_as_fitted(
    two_classes, tiny_model_dir, tiny_vgg_dir, tmp_path, write_audio, heads
):
    both = [str(tiny_model_dir), str(tiny_vgg_dir)]
    settings = TransferSettings(
        backbones=both,
        hop=1.0,
        inner_folds=2,
        crops=3,
        heads=heads,
        hidden=[8],
        alphas=[0.1],
        Cs=[0.1, 1.0],
        backbone_sets=[both[:1], both],
    )
    dataset = open_dataset(str(two_classes))
    samples = embed_tracks(dataset.items, settings)
    assert samples[dataset.items[0].id].crops.shape[0] == 3  # short crops beside the patches
    folder = train_transfer(dataset, dataset.items, settings, tmp_path / "model", samples=samples)
    tagger = Tagger(folder)
    fit = tagger.config.info["fit"]
    assert fit["head"] == heads[0] and fit["backbones"] in settings.backbone_sets
    assert len(tagger.module.backbones) == len(fit["backbones"]) and "inner_cv_crop_accuracy" in fit
    clip = write_audio("clip.wav", noise(2.0, 16000, 77), 16000)  # shorter than one patch
    result = tagger.tag(clip)
    embedding = tagger.embed(clip, layer="embedding").per_patch  # the chosen backbones' features
    with torch.no_grad():
        logits = tagger.module.head((torch.from_numpy(embedding) - tagger.module.mean) / tagger.module.scale)
    np.testing.assert_allclose(result.scores, torch.softmax(logits, -1).numpy()[0], atol=1e-6)
    assert result.top(1)[0][0] == "noise"


@pytest.mark.parametrize("hidden", [[6], [6, 4]])
def test_an_mlp_ensemble_is_one_network_giving_the_members_mean_logits(hidden):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = (x[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int) + (x[:, 1] > 1)
    settings = TransferSettings(heads=["mlp"], hidden=hidden, alphas=[0.1], ensemble=3)
    fitted = fit_head(x, y, "single-label", settings)
    assert fitted.hidden == [3 * width for width in hidden] and fitted.chosen["members"] == 3
    members = [fit_head(x, y, "single-label", replace(settings, ensemble=1, seed=k)) for k in range(3)]
    np.testing.assert_allclose(fitted.logits(x), np.mean([m.logits(x) for m in members], axis=0), atol=1e-9)
    with pytest.raises(ParameterError, match="ensemble"):
        TransferSettings(ensemble=0)


def test_cross_validation_scores_held_out_excerpts(two_classes, settings):
    result = cross_validate_transfer(
        open_dataset(str(two_classes)),
        replace(settings, samples="patches", crops=2),
        folds=3,
        excerpts=Excerpts(1.0, 2.0, per_item=3),
    )
    assert result["summary"]["excerpt_accuracy"]["mean"] >= 0.9
    assert sum(m["excerpts"]["n"] for m in result["per_fold"]) == 36


@pytest.fixture
def two(tmp_path, write_audio):
    for n in range(4):
        write_audio(f"two/tones/t{n}.wav", tone(3.5, 16000, 110 + 15 * n), 16000)
        write_audio(f"two/noise/n{n}.wav", music_like(3.5, 16000, seed=n), 16000)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"name: tiny\nkind: transfer\ndata: {tmp_path / 'two'}\ntransfer:\n  backbones: [PLACEHOLDER]\n"
        "  hop: 1.0\n  inner_folds: 2\n"
    )
    return recipe


def test_train_says_what_it_fitted_and_evaluate_warns_about_training_items(capsys, two, tiny_model_dir, tmp_path):
    two.write_text(two.read_text().replace("PLACEHOLDER", str(tiny_model_dir)))
    code, out, _ = run_main(capsys, "train", two, "-o", tmp_path / "run")
    assert code == 0 and "fit: " in out and "C " in out and "read as folders" in out
    code, _, err = run_main(
        capsys,
        "evaluate",
        tmp_path / "run" / "model",
        "--data",
        tmp_path / "two",
        "--split",
        "all",
        "-o",
        tmp_path / "ev",
    )
    assert code == 0 and "8 of these 8 items trained the model" in err
    code, _, err = run_main(capsys, "compare", tmp_path / "run")
    assert code == 1 and "musictag evaluate" in err


def test_extra_rows_train_with_their_weight_and_are_never_scored(settings):
    """Issue 34: rows of other data (synthetic clips) join the head's training at a weight of their own."""
    from musictag.training.fit_head import ExtraRows

    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 20)
    x = rng.normal(size=(40, 3)) + np.outer(2 * y - 1, [4.0, 0, 0])  # real rows: class by feature 0
    flipped = ExtraRows((x - x.mean(0)) / x.std(0), 1 - y, np.ones(40))  # the same sounds, the other labels
    settings = replace(settings, Cs=[1.0])
    accuracy = {}
    for weight in (1e-3, 30.0):
        extra = replace(flipped, weight=np.full(40, weight))
        head = fit_head(x, y, "single-label", settings, extra=extra)
        accuracy[weight] = (head_scores(x, head, "single-label").argmax(1) == y).mean()
        assert head.chosen["extra_rows"] == 40 and head.chosen["rows"] == 40  # counted apart
    assert accuracy[1e-3] == 1.0 and accuracy[30.0] == 0.0  # a light weight barely moves the head; a heavy one rules
    with pytest.raises(ParameterError, match="single-label"):
        fit_head(x, np.column_stack([y, 1 - y]), "multi-label", settings, extra=flipped)


@pytest.mark.slow
def test_a_transfer_recipe_learns_from_extra_data_named_with_a_weight(two_classes, tiny_model_dir, tmp_path, capsys):
    extra = tmp_path / "extra.csv"
    extra.write_text("path,labels\n" + "".join(f"{two_classes}/tones/t{n}.wav,tones\n" for n in range(2)))
    recipe = tmp_path / "rec.yaml"
    recipe.write_text(
        f"kind: transfer\ndata: {two_classes}\n"
        f"transfer:\n  backbones: [{tiny_model_dir}]\n  hop: 1.0\n  inner_folds: 2\n  extra: {{extra.csv: 0.1}}\n"
    )
    loaded = Recipe.load(recipe)
    assert loaded.settings.extra == {str(extra): 0.1}  # read against the recipe's folder
    rows = extra_rows(loaded.settings, ["noise", "tones"])
    assert rows.y.tolist() == [1, 1] and rows.weight.tolist() == [0.1, 0.1]
    np.testing.assert_allclose(rows.x.mean(0), 0, atol=1e-5)  # standardised by their own source's statistics
    code, out, _ = run_main(capsys, "train", recipe, "--folds", "3", "-o", tmp_path / "run")
    assert code == 0 and "3-fold track-disjoint accuracy 1.0000" in out
    fit = json.loads((tmp_path / "run" / "model" / "config.json").read_text())["info"]["fit"]
    assert fit["extra_rows"] == 2 and fit["rows"] == 12 * (1 + 8)  # a 3.5-s clip is one patch; real rows add 8 crops
    reference = ["--set", f"transfer.reference=files:{two_classes / 'noise'}"]  # unlabelled audio
    code, out, _ = run_main(capsys, "train", recipe, *reference, "-o", tmp_path / "ref")
    fit = json.loads((tmp_path / "ref" / "model" / "config.json").read_text())["info"]["fit"]
    assert code == 0 and fit["reference_rows"] == 6  # six 3.5-s files: a patch each
    extra.write_text(f"path,labels\n{two_classes}/tones/t0.wav,drums\n")
    code, _, err = run_main(capsys, "train", recipe, "-o", tmp_path / "bad")
    assert code == 1 and "transfer.extra" in err and "drums" in err and "Traceback" not in err
    with pytest.raises(ParameterError, match="positive number"):
        Recipe.load(recipe, ["transfer.extra={extra.csv: 0}"])


def test_a_reference_of_real_audio_standardises_what_a_head_trained_elsewhere_meets(settings):
    """Issue 34: a head fitted on synthetic features meets real ones shifted and scaled; standardising
    them by real audio's own mean and spread (labels unused) puts them where the head learnt."""
    rng = np.random.default_rng(1)
    y = np.tile([0, 1], 50)
    real = rng.normal(size=(100, 4)) + np.outer(2 * y - 1, [1.5, 0, 0, 0])
    synthetic = 3.0 * (rng.normal(size=(100, 4)) + np.outer(2 * y - 1, [1.5, 0, 0, 0])) + 5.0  # another domain
    settings = replace(settings, Cs=[1.0])
    plain = fit_head(synthetic, y, "single-label", settings)
    unlabelled = ReferenceRows(real[::2], np.arange(50))  # real audio, one row a track
    adapted = fit_head(synthetic, y, "single-label", settings, reference=unlabelled)
    accuracy = {
        name: (head_scores(real[1::2], head, "single-label").argmax(1) == y[1::2]).mean()
        for name, head in (("plain", plain), ("adapted", adapted))
    }
    assert accuracy["plain"] <= 0.6 and accuracy["adapted"] >= 0.85
    np.testing.assert_allclose(adapted.mean, real[::2].mean(0))
    assert adapted.chosen["reference_rows"] == 50
    np.testing.assert_array_equal(adapted.layers[0][0], plain.layers[0][0])  # the same head, other inputs


def test_self_training_adds_the_reference_tracks_the_head_is_surest_of_class_by_class(settings):
    """Issue 34: ``pseudo_labels`` labels the reference's tracks with the head's own guesses and adds,
    per guessed class, the share of them it is surest of, weighing ``pseudo_weight`` of the training rows."""
    # three classes along one feature; the head guesses by sign; track 5 is the surest 'high', track 0 the surest 'low'
    layers = [(np.array([[-1.0], [0.0], [1.0]]), np.zeros(3))]
    means = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    real = ReferenceRows(np.repeat(means, 2)[:, None] + np.tile([-0.1, 0.1], 6)[:, None], np.repeat(np.arange(6), 2))
    tracks = replace(settings, pseudo_labels=0.5)  # ceil(0.5 * 6 tracks / 3 classes) = 1 a class
    rows, count = _pseudo_labelled(layers, real, tracks, weight=3.0)
    np.testing.assert_allclose(rows.x[:, 0], [-3.0, 3.0])  # track means; the middle class is never guessed
    np.testing.assert_array_equal(rows.y, [0, 2])
    assert count == 2 and rows.weight.sum() == pytest.approx(3.0)
    rows, count = _pseudo_labelled(layers, real, replace(tracks, samples="patches", pseudo_labels=1.0), weight=3.0)
    np.testing.assert_allclose(rows.x[:, 0], [-3.1, -2.9, -2.1, -1.9, 1.9, 2.1, 2.9, 3.1])  # 2 tracks a class, patches
    np.testing.assert_array_equal(rows.y, [0, 0, 0, 0, 2, 2, 2, 2])
    assert count == 4 and rows.weight.sum() == pytest.approx(3.0)


def test_self_training_refits_the_head_on_its_surest_guesses(settings):
    rng = np.random.default_rng(2)
    y = np.tile([0, 1, 2], 40)
    synthetic = (np.array([-3.0, 0.0, 3.0])[y] + rng.normal(size=120))[:, None]
    real = ReferenceRows((np.array([-3.0, 0.5, 1.5])[y] + 0.4 * rng.normal(size=120))[:, None], np.arange(120))
    settings = replace(settings, Cs=[1.0])
    adapted = fit_head(synthetic, y, "single-label", settings, reference=real)
    trained = fit_head(synthetic, y, "single-label", replace(settings, pseudo_labels=0.5), reference=real)
    assert trained.chosen["pseudo_labelled_tracks"] == 60 and "pseudo_labelled_tracks" not in adapted.chosen
    np.testing.assert_allclose(trained.mean, adapted.mean)  # the same standardisation, another head
    assert not np.allclose(trained.layers[0][0], adapted.layers[0][0])
    with pytest.raises(ParameterError, match="single-label"):
        fit_head(synthetic, np.eye(3)[y], "multi-label", replace(settings, pseudo_labels=0.5), reference=real)
    with pytest.raises(ParameterError, match="pseudo_labels"):
        replace(settings, pseudo_labels=2)
