"""Concept banks, concept vectors (TCAV) and locating a concept, with known answers: a model that
reads one mel band, and concept clips that differ from their matched clips by one tone or one stem."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from musictag.errors import ParameterError
from musictag.explain.activations import firing_layers
from musictag.explain.bank import CONCEPTS, audio_files, random_sets, read_bank
from musictag.explain.locate import fit_probe, locate
from musictag.explain.tcav import score_concepts
from musictag.features.config import MUSICNN
from musictag.inference.tagger import Tagger
from musictag.models.config import ModelConfig

from conftest import noise, tone

pytest.importorskip("captum", reason="concept vectors need captum")
SR = 16000


class ReadsBands(torch.nn.Module):
    """``bands``: the mean log-mel of 8 groups of 12 mel bands; ``low`` rises with the lowest group,
    ``not_low`` falls with it."""

    def __init__(self):
        super().__init__()
        self.bands = torch.nn.Linear(96, 8)
        self.out = torch.nn.Linear(8, 2)
        with torch.no_grad():
            self.bands.weight.copy_(torch.kron(torch.eye(8), torch.full((1, 12), 1 / 12)))
            self.bands.bias.zero_()
            self.out.weight.zero_()
            self.out.weight[0, 0], self.out.weight[1, 0] = 1.0, -1.0
            self.out.bias.zero_()

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.out(self.bands(x.mean(1)))}


@pytest.fixture
def band_tagger() -> Tagger:
    config = ModelConfig(
        name="bands", architecture="custom", labels=["low", "not_low"], frontend=MUSICNN.to_dict(), activation="sigmoid"
    )
    return Tagger.from_model(ReadsBands(), config)


def _clip(seed: int, *, low: bool, seconds: float = 3.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = noise(seconds, SR, seed=seed, amp=0.05) + tone(seconds, SR, freq=float(rng.uniform(1500, 5000)), amp=0.1)
    return mix + (tone(seconds, SR, freq=float(rng.uniform(60, 110)), amp=0.3) if low else 0)


@pytest.fixture
def tone_bank(tmp_path, write_audio):
    """A user's concept folder: ``low_tone`` (noise, a high tone and a low tone) matched by the same
    clips without the low tone; 40 random sets of noise and high tones; inputs likewise."""
    root = tmp_path / "bank"
    for k in range(12):
        write_audio(root / "low_tone" / "positive" / f"{k:02d}.wav", _clip(k, low=True), SR)
        write_audio(root / "low_tone" / "matched" / f"{k:02d}.wav", _clip(k, low=False), SR)
    for s in range(40):
        for k in range(3):
            write_audio(root / "random" / f"set_{s:02d}" / f"{k}.wav", _clip(1000 + 10 * s + k, low=False), SR)
    for k in range(8):
        write_audio(root / "inputs" / f"{k}.wav", _clip(5000 + k, low=k % 2 == 0), SR)
    return root


def test_tcav_names_the_concept_the_model_reads(band_tagger, tone_bank):
    bank = read_bank(tone_bank)
    assert firing_layers(band_tagger) == ["bands"]
    result = score_concepts(band_tagger, bank.concepts, bank.randoms, bank.inputs, matched=bank.matched, subsets=6)
    low = result.significant("low_tone", "low")
    assert low and low["score"] == 1.0 and low["p_bonferroni"] < 0.05
    assert result.significant("low_tone", "low", "bands") == low and not result.significant("low_tone", "low", "out")
    against = next(r for r in result.rows if r["concept"] == "low_tone" and r["target"] == "not_low")
    assert against["score"] == 0.0 and against["direction"] == "negative"
    assert not any(r["significant"] for r in result.rows if r["concept"] == "random_control")
    assert result.accuracy["low_tone"]["bands"] >= 0.9


def test_a_concept_vector_is_the_mean_change_and_pairs_are_held_out_together():
    """Concept clips that add one small, fixed change to clips whose arrangements differ far more: the
    vector is that change (not whatever tells a few arrangements apart), and a clip is never tested
    while its matched twin was fitted."""
    from musictag.explain.activations import held_out, probe_class

    rng = np.random.default_rng(0)
    pairs, channels, positions = 12, 6, 4
    arrangement = np.repeat(rng.normal(0, 10, (pairs, channels)), positions, axis=1)
    change = np.repeat(np.eye(channels)[2], positions)
    positive = arrangement + change + rng.normal(0, 0.05, arrangement.shape)
    matched = arrangement + rng.normal(0, 0.05, arrangement.shape)
    probe = probe_class()({channels * positions: channels}, {0: np.arange(pairs), 1: np.arange(pairs)})
    probe.train_and_eval([(torch.tensor(positive), torch.zeros(pairs)), (torch.tensor(matched), torch.ones(pairs))])
    vector = probe.weights()[probe.classes().index(0)].numpy()
    cosine = vector @ change / np.linalg.norm(vector) / np.linalg.norm(change)
    assert cosine > 0.99
    y, groups = np.r_[np.ones(pairs), np.zeros(pairs)], np.r_[np.arange(pairs), np.arange(pairs)]
    train, test = held_out(y, groups, seed=3)
    assert not set(groups[train]) & set(groups[test])
    assert set(y[train]) == set(y[test]) == {0.0, 1.0} and 0.2 < len(test) / len(y) < 0.5


def test_locate_finds_where_the_concept_starts(band_tagger, tone_bank, write_audio):
    bank = read_bank(tone_bank)
    song = np.concatenate([_clip(77, low=False, seconds=6), _clip(78, low=True, seconds=6)])
    path = write_audio("song.wav", song, SR)
    probe = fit_probe(
        band_tagger, "low_tone", bank=bank.concepts, randoms=bank.randoms, matched=bank.matched["low_tone"]
    )
    found = locate(band_tagger, str(path), probe, hop=0.5)
    centres = np.array(found.starts) + found.patch_seconds / 2
    p = np.array(found.probability)
    assert p[centres < 4.5].max() < 0.5 < p[centres > 7.5].min()
    assert found.spans()[0][0] == pytest.approx(6.0, abs=1.0)
    # the log-mel for the picture comes from the same patches: the file's frames end to end
    end_to_end = Tagger.from_model(band_tagger.module, band_tagger.config, hop=found.patch_seconds)
    whole, _ = end_to_end.file_patches(path)
    whole = whole.reshape(-1, whole.shape[-1]).numpy()
    common = min(len(found.mel), len(whole))
    assert common > 0.95 * len(whole)
    np.testing.assert_allclose(found.mel[:common], whole[:common], atol=1e-5)
    with pytest.raises(ParameterError, match="unknown concept"):
        fit_probe(band_tagger, "cowbell", bank=bank.concepts, randoms=bank.randoms, matched=[])


def test_bad_concept_input_is_one_clear_error(band_tagger, tone_bank, tmp_path):
    bank = read_bank(tone_bank)
    with pytest.raises(ParameterError, match="unknown layer 'nope'.*layers: bands"):
        score_concepts(band_tagger, bank.concepts, bank.randoms, bank.inputs, layers=["nope"])
    with pytest.raises(ParameterError, match="unknown target 'drums'"):
        score_concepts(band_tagger, bank.concepts, bank.randoms, bank.inputs, targets=["drums"])
    with pytest.raises(ParameterError, match="random sets"):
        score_concepts(band_tagger, bank.concepts, bank.randoms[:5], bank.inputs)
    (tone_bank / "empty").mkdir()
    (tone_bank / "empty" / "._resource_fork.wav").write_bytes(b"not audio")  # hidden files are never audio
    with pytest.raises(ParameterError, match="empty: concept folder has no audio files"):
        read_bank(tone_bank)
    with pytest.raises(ParameterError, match="concept folder not found"):
        read_bank(tmp_path / "missing")
    with pytest.raises(ParameterError, match="random-set folder not found"):
        random_sets(tmp_path / "missing")
    with pytest.raises(ParameterError, match="missing: folder not found"):  # e.g. concepts score --inputs DIR
        audio_files(tmp_path / "missing")
    assert random_sets(tone_bank) == bank.randoms  # a bank, or its random/ folder, gives the same sets
    assert random_sets(tone_bank / "random") == bank.randoms


@pytest.mark.slow
def test_cli_score_and_locate(tiny_model_dir, tone_bank, tmp_path, write_audio):
    out = tmp_path / "tcav"
    run = [sys.executable, "-m", "musictag", "concepts"]
    score = [*run, "score", "--model", str(tiny_model_dir), "--concepts", str(tone_bank), "--out", str(out)]
    done = subprocess.run([*score, "--targets", "tag0,tag1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "tcav.json").read_text())
    assert len(record["rows"]) == 2 * len(record["layers"]) * 2 and len(record["layers"]) == 3
    assert (out / "tcav.png").stat().st_size > 1000 and "| concept |" in (out / "tcav.md").read_text()
    bad = subprocess.run([*score, "--layers", "midend.9"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "unknown layer 'midend.9'" in bad.stderr
    song = write_audio("song.wav", _clip(3, low=True, seconds=5), SR)
    located = subprocess.run(
        [
            *run,
            "locate",
            str(song),
            str(tmp_path / "missing.wav"),
            "--model",
            str(tiny_model_dir),
            "--concepts",
            str(tone_bank),
            "--concept",
            "low_tone",
            "--out",
            str(tmp_path / "loc"),
        ],
        capture_output=True,
        text=True,
    )
    assert located.returncode == 1 and "missing.wav" in located.stderr and "Traceback" not in located.stderr
    found = json.loads((tmp_path / "loc" / "song.low_tone.json").read_text())
    assert found["patches"] and found["layer"] == "penultimate"  # the default: the last hidden layer
    assert (tmp_path / "loc" / "song.low_tone.png").is_file()


# -- the procedural bank ------------------------------------------------------------------------

synth = pytest.mark.skipif(
    not all(__import__("importlib").util.find_spec(m) for m in ("tinysoundfont", "pretty_midi", "pedalboard")),
    reason="the procedural bank needs tinysoundfont, pretty_midi and pedalboard",
)


@synth
@pytest.mark.parametrize("name", ["drums", "singing_voice", "piano", "bass_line"])
def test_a_pair_differs_only_in_the_concept_stem(name):
    from musictag.explain.bank import AUDIBLE_DB, _audible, render_pair
    from musictag.synthesis.render import effects, limit, master_gain, render_stems

    concept = CONCEPTS[name]
    pair = render_pair(concept, 7, duration=3.0)
    notes = pair.positive_arrangement.notes
    assert any(n.role == concept.stem for n in notes)
    assert pair.matched_arrangement.notes == [n for n in notes if n.role != concept.stem]
    stems = render_stems(pair.positive_arrangement, sample_rate=SR, seed=7)
    others = {r: a for r, a in stems.items() if r != concept.stem}
    # the concept's stem is raised to AUDIBLE_DB against the rest when it is quieter, never lowered
    rest = sum(others.values())
    raised = _audible(stems[concept.stem], rest)
    level = 10 * np.log10(np.mean(raised**2) / np.mean(rest**2))
    assert level >= AUDIBLE_DB - 0.01 and np.all(np.abs(raised) >= np.abs(stems[concept.stem]))
    mixed, loudness = effects({**stems, concept.stem: raised}, pair.genre, SR, np.random.default_rng(7))
    without, _ = effects(others, pair.genre, SR, np.random.default_rng(7))
    gain = master_gain(mixed, loudness)  # the same master gain: every other stem at the same level
    np.testing.assert_array_equal(pair.positive, limit(mixed * gain, SR))
    np.testing.assert_array_equal(pair.matched, limit(without * gain, SR))
    assert np.sqrt(np.mean((pair.positive - pair.matched) ** 2)) > 0.01


@synth
def test_changed_choice_pairs_keep_the_notes():
    from musictag.explain.bank import render_pair

    fast = render_pair(CONCEPTS["fast_tempo"], 3, duration=3.0)
    assert fast.positive_arrangement.bpm >= 168 and fast.matched_arrangement.bpm == fast.positive_arrangement.bpm / 2
    slow = fast.matched_arrangement.notes
    doubled = [(n.role, n.pitch, 2 * n.start) for n in fast.positive_arrangement.notes if 2 * n.start < 3.0]
    assert doubled == [(n.role, n.pitch, n.start) for n in slow] and slow
    swing = render_pair(CONCEPTS["swing_feel"], 3, duration=3.0)
    a, b = swing.positive_arrangement.notes, swing.matched_arrangement.notes
    assert [(n.role, n.pitch) for n in a] == [(n.role, n.pitch) for n in b][: len(a)]
    assert any(abs(x.start - y.start) > 0.02 for x, y in zip(a, b, strict=False))
    kick = render_pair(CONCEPTS["four_on_the_floor"], 3, duration=3.0)
    beat = 60 / kick.positive_arrangement.bpm
    kicks = [n.start for n in kick.positive_arrangement.notes if n.role == "drums" and n.pitch == 36]
    assert all(abs(s / beat - round(s / beat)) < 0.1 for s in kicks) and len(kicks) >= int(3.0 / beat)


@synth
def test_render_bank_cli_layout_and_resume(tmp_path):
    out = tmp_path / "bank"
    command = [
        sys.executable,
        "-m",
        "musictag",
        "concepts",
        "render",
        "--out",
        str(out),
        "--concepts",
        "drums,cowbell",
        "--per-concept",
        "6",
        "--random-sets",
        "16",
        "--inputs",
        "2",
        "--seconds",
        "3.1",
        "-q",
    ]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    bank = read_bank(out)
    assert sorted(bank.concepts) == ["cowbell", "drums"] and len(bank.concepts["drums"]) == 6
    assert len(bank.matched["cowbell"]) == 6 and len(bank.randoms) == 16 and len(bank.inputs) == 2
    manifest = json.loads((out / "bank.json").read_text())
    assert manifest["concepts"]["drums"]["stem"] == "drums" and len(manifest["concepts"]["drums"]["clips"]) == 6
    stamp = (out / "drums" / "positive" / "drums_000.flac").stat().st_mtime_ns
    assert subprocess.run(command, capture_output=True).returncode == 0  # a rerun keeps what is there
    assert (out / "drums" / "positive" / "drums_000.flac").stat().st_mtime_ns == stamp
    bad = subprocess.run([*command[:7], "--concepts", "drums,banjo"], capture_output=True, text=True)
    assert bad.returncode == 1 and "unknown concept banjo" in bad.stderr


def test_locate_in_a_clip_shorter_than_a_patch_stays_within_the_clip(band_tagger, tone_bank, write_audio):
    """Defect 6 (concepts locate): spans of a short clip ended past its end."""
    bank = read_bank(tone_bank)
    probe = fit_probe(
        band_tagger, "low_tone", bank=bank.concepts, randoms=bank.randoms, matched=bank.matched["low_tone"]
    )
    path = write_audio("short.wav", _clip(5, low=True, seconds=1.0), SR)
    found = locate(band_tagger, str(path), probe, hop=0.5)
    assert found.duration == pytest.approx(1.0, abs=0.01)
    assert found.spans() and all(b <= 1.0 + 1e-3 for _, b in found.spans())
    assert len(found.mel) == round(1.0 / band_tagger.frame_seconds)


def test_a_stem_mixed_into_a_track_sits_at_its_span_and_level():
    import random

    from musictag.studies.real_concepts import UNDER_DB, mix_in

    track = noise(20.0, SR, seed=4, amp=0.1).astype(np.float32)  # peaks under 0.9: not rescaled
    stem = tone(6.0, SR, freq=100.0, amp=0.5).astype(np.float32)
    mixed, (start, end) = mix_in(track, stem, SR, random.Random(1))
    assert end - start == pytest.approx(6.0) and 2.0 <= start <= 12.0
    added = mixed - track
    inside = added[int((start + 0.1) * SR) : int((end - 0.1) * SR)]
    assert not added[: int(start * SR) - 1].any() and not added[int(end * SR) + 1 :].any()
    under = 20 * np.log10(np.sqrt(np.mean(track**2)) / np.sqrt(np.mean(inside**2)))
    assert UNDER_DB[0] - 0.2 <= under <= UNDER_DB[1] + 0.2


def test_location_auc_scores_the_probe_against_the_span(band_tagger, tone_bank, write_audio):
    """The band model's probe on a low tone mixed into 4-10 s of a track: the patches centred there score
    higher than the others."""
    from musictag.studies.real_concepts import location_auc

    bank = read_bank(tone_bank)
    song = np.concatenate(
        [_clip(90, low=False, seconds=4), _clip(91, low=True, seconds=6), _clip(92, low=False, seconds=5)]
    )
    path = write_audio("song.wav", song, SR)
    probe = fit_probe(
        band_tagger, "low_tone", bank=bank.concepts, randoms=bank.randoms, matched=bank.matched["low_tone"]
    )
    found = locate(band_tagger, str(path), probe)
    assert location_auc(found, (4.0, 10.0)) > 0.95
    assert location_auc(found, (10.0, 15.0)) < 0.3  # the wrong span scores low
    assert np.isnan(location_auc(found, (0.0, 100.0)))  # every patch inside: no ranking to score


@synth
def test_cli_concepts_benchmark_on_real_style_tracks(tiny_model_dir, tone_bank, tmp_path, write_audio, capsys):
    """The benchmark's plumbing: a bank with a ``drums`` folder, a GTZAN-named folder of 20-s tracks; the
    drum stem mixed into classical tracks and rock spliced into classical, each file scored against its
    span, and one line for a bank without any stem concept."""
    import shutil

    from conftest import music_like, run_main

    bank = tmp_path / "with_drums"
    shutil.copytree(tone_bank, bank)
    (bank / "low_tone").rename(bank / "drums")
    data = tmp_path / "gtzan"
    for genre in ("classical", "rock"):
        for k in range(2):
            write_audio(data / genre / f"{genre}.{k:05d}.wav", music_like(20.0, SR, seed=k + 7 * len(genre)) * 0.3, SR)
    argv = ["concepts", "benchmark", "--model", tiny_model_dir, "--concepts", bank, "--real", f"gtzan:{data}"]
    code, out, _ = run_main(capsys, *argv, "--files", "2", "--tcav-inputs", "0", "--out", tmp_path / "o", "-q")
    assert code == 0 and "| drums |" in out
    record = json.loads((tmp_path / "o" / "real_concepts.json").read_text())
    drums = record["concepts"]["drums"]
    assert len(drums["mixed"]) == len(drums["spliced"]) == 2
    for case in drums["mixed"] + drums["spliced"]:
        assert (tmp_path / "o").joinpath(case["path"]).is_file()
        assert 0.0 <= case["auc"] <= 1.0 and case["span"][1] > case["span"][0]
    (bank / "drums").rename(bank / "other")
    code, _, err = run_main(capsys, *argv, "--out", tmp_path / "o2", "-q")
    assert code == 1 and "no stem concept" in err and err.strip().count("\n") == 0
