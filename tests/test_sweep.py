"""The new-user sweep: each defect found by trying every command with real and bad input, as a test."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musictag import Tagger
from musictag.cli.main import COMMANDS, build_parser, main
from musictag.data import open_dataset, parse_spec
from musictag.errors import MusictagError, ParameterError
from musictag.inference import tagger as tagger_module
from musictag.synthesis.generate import synthesize
from musictag.training.recipe import Recipe

from conftest import music_like, tone

MUSICTAG = Path(sys.executable).with_name("musictag")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def song(write_audio):
    return write_audio("song.flac", music_like(4.0, 16000), 16000)


# -- wrong results or data loss ----------------------------------------------------------


def test_an_output_over_an_input_is_refused(capsys, song, tiny_model_dir):
    before = song.read_bytes()
    code, _, err = run(capsys, "tag", song, "--model", tiny_model_dir, "-o", song)
    assert code == 1 and "is one of the input files" in err and song.read_bytes() == before
    link = song.with_name("link.flac")
    link.symlink_to(song)
    assert run(capsys, "tag", link, "--model", tiny_model_dir, "-o", song)[0] == 1  # same inode, other name
    assert song.read_bytes() == before


def test_synth_remakes_clips_whose_settings_changed(tmp_path):
    records = [{"id": "a", "genre": "rock", "prompt": "a rock song", "seed": 1}]
    assert synthesize(records, tmp_path, duration=1.0, sample_rate=16000).made == 1
    assert synthesize(records, tmp_path, duration=1.0, sample_rate=16000).skipped == 1
    changes = [
        ([{**records[0], "seed": 2}], {}),
        (records, {"duration": 1.5}),
        (records, {"sample_rate": 22050}),
        ([{**records[0], "prompt": "loud rock"}], {}),
    ]
    for changed, kwargs in changes:
        settings = {"duration": 1.0, "sample_rate": 16000, **kwargs}
        report = synthesize(changed, tmp_path, **settings)
        assert (report.made, report.skipped) == (1, 0), kwargs
        info = sf.info(tmp_path / "rock" / "a.flac")
        assert (info.samplerate, round(info.duration, 2)) == (settings["sample_rate"], settings["duration"])
    manifest = (tmp_path / "manifest.csv").read_text()
    assert "soundfont=" in manifest and "loud rock" in manifest


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


# -- tracebacks where one line is owed ----------------------------------------------------


@pytest.mark.parametrize("hop", ["nan", "inf", "0", "-1"])
def test_bad_hop_is_a_usage_error_naming_the_flag(capsys, song, hop):
    assert "--hop" in usage_error(capsys, "tag", song, f"--hop={hop}")


@pytest.mark.parametrize("damage", [b"", b'\x10\x00\x00\x00\x00\x00\x00\x00{"a":'])
def test_damaged_weights_are_one_line_naming_the_file(capsys, song, tiny_model_dir, tmp_path, damage):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(damage)
    code, _, err = run(capsys, "tag", song, "--model", broken)
    assert code == 1 and err.count("\n") == 1 and "model.safetensors: damaged or truncated weights" in err
    assert "musictag models pull" in err


def test_outputs_are_checked_before_any_work(capsys, song, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(Tagger, "tag_many", lambda *a, **k: pytest.fail("tagged before checking the output"))
    code, _, err = run(capsys, "tag", song, "--model", tiny_model_dir, "-o", tmp_path)
    assert code == 1 and "is a folder" in err and err.count("\n") == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = run(capsys, "tag", song, "--model", tiny_model_dir, "-o", blocker / "sub" / "out.csv")
    assert code == 1 and "cannot create the folder" in err and err.count("\n") == 1


def test_ctrl_c_during_start_up_is_one_line(song, tiny_model_dir):
    process = subprocess.Popen(
        [str(MUSICTAG), "tag", str(song), "--model", str(tiny_model_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.4)  # inside torch's import
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the command finished before the interrupt arrived")
    assert process.returncode == 130 and "Traceback" not in err and "interrupted" in err


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


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["tag", "x.wav", "--batch-size", "0"], "--batch-size"),
        (["tag", "x.wav", "--top-k", "-1"], "--top-k"),
        (["tag", "x.wav", "--model", "jukebox"], "--model"),
        (["features", "extract", "x", "--workers", "0"], "--workers"),
        (["synth", "prompts", "--per-genre", "-2", "-o", "p.jsonl"], "--per-genre"),
        (["train", "gtzan-svm", "--folds", "1"], "--folds"),
        (["synth", "audio", "--prompts", "p", "-o", "d", "--duration", "0"], "--duration"),
    ],
)
def test_usage_errors_exit_2_naming_the_flag(capsys, argv, flag):
    assert flag in usage_error(capsys, *argv)


# -- inputs handled wrongly ------------------------------------------------------------


def test_home_is_expanded_in_specs_and_recipe_paths_are_read_against_the_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    kind, path, options = parse_spec("gtzan:~/data?lists=~/splits&split=fault-filtered")
    assert (kind, path, options["lists"]) == ("gtzan", tmp_path / "data", str(tmp_path / "splits"))
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "r.yaml").write_text("kind: transfer\ndata: gtzan:../music?lists=../lists\n")
    recipe = Recipe.load(folder / "r.yaml")
    _, path, options = parse_spec(recipe.data)
    assert path.resolve() == (tmp_path / "music").resolve() and Path(options["lists"]).resolve() == tmp_path / "lists"
    assert Recipe.load(folder / "r.yaml", ["data=gtzan:rel"]).data == "gtzan:rel"  # overrides: the working folder
    assert Recipe.load("gtzan-svm").kind == "classical"  # shipped recipes by name


def test_file_names_that_are_not_utf8_are_tagged(capsys, tmp_path, tiny_model_dir):
    name = os.fsdecode(b"caf\xe9.wav")
    sf.write(os.fsencode(tmp_path / name), music_like(4.0, 16000), 16000)
    code, out, err = run(capsys, "tag", tmp_path, "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 0 and err == "" and json.loads(out)["path"] == str(tmp_path / name)


def test_truncated_wav_and_mp3_are_reported(capsys, tmp_path, write_audio, tiny_model_dir):
    from musictag.audio.decode import ffmpeg_executable

    wav = write_audio("full.wav", tone(10.0, 22050), 22050)
    cut = [tmp_path / "cut.wav"]
    cut[0].write_bytes(wav.read_bytes()[: wav.stat().st_size // 2])
    exe = ffmpeg_executable()
    if (
        exe
        and subprocess.run(
            [exe, "-v", "error", "-i", str(wav), "-c:a", "libmp3lame", str(tmp_path / "f.mp3")], capture_output=True
        ).returncode
        == 0
    ):
        data = (tmp_path / "f.mp3").read_bytes()
        cut.append(tmp_path / "cut.mp3")
        cut[1].write_bytes(data[: len(data) // 2])
    code, _, err = run(capsys, "tag", *cut, wav, "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 1 and f"{len(cut)} of {len(cut) + 1} files failed" in err
    assert all(f"{path}: truncated or corrupt" in err for path in cut)


def test_folders_name_themselves_follow_links_and_skip_hidden_files(capsys, tmp_path, write_audio, tiny_model_dir):
    write_audio("lib/albums/one/a.wav", music_like(1.0, 16000), 16000)
    write_audio("lib/albums/one/._a.wav", music_like(1.0, 16000), 16000)  # a macOS resource fork
    write_audio("elsewhere/b.flac", music_like(1.0, 16000), 16000)
    (tmp_path / "elsewhere" / "c.wv").write_bytes(b"wvpk")
    (tmp_path / "lib" / "albums" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "lib" / "albums" / "loop").symlink_to(tmp_path / "lib")
    code, _, err = run(capsys, "tag", tmp_path / "lib", "--model", tiny_model_dir)
    assert code == 1 and str(tmp_path / "lib") in err and "-r" in err
    from musictag.audio.discover import find_audio

    names = sorted(Path(p).name for p in find_audio([tmp_path / "lib"], recursive=True))
    assert names == ["a.wav", "b.flac", "c.wv"]


def test_label_folders_with_gtzan_like_names_stay_label_folders(capsys, tmp_path, write_audio):
    write_audio("mine/happy/blues.00010.wav", tone(1.0, 16000), 16000)
    write_audio("mine/sad/mysong.au", tone(1.0, 16000, 300), 16000, format="AU", subtype="PCM_16")
    data = open_dataset(str(tmp_path / "mine"))
    assert data.vocabulary == ["happy", "sad"] and len(data) == 2 and data.layout.startswith("folders (guessed")
    assert main(["data", "info", str(tmp_path / "mine")]) == 0 and "read as folders (guessed" in capsys.readouterr().out
    write_audio("gt/blues/blues.00001.wav", tone(1.0, 16000), 16000)
    write_audio("gt/blues/notes.wav", tone(1.0, 16000), 16000)
    data = open_dataset(f"gtzan:{tmp_path / 'gt'}")
    assert len(data) == 1 and any("notes.wav: not a GTZAN clip name" in p for p in data.problems)


def test_model_folders_pipes_silent_videos_and_weights_each_get_their_line(capsys, song, tmp_path, tiny_model_dir):
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    code, _, err = run(capsys, "tag", song, "--model", half)
    assert code == 1 and "has no model.safetensors" in err
    os.mkfifo(tmp_path / "pipe.wav")
    code, out, err = run(capsys, "tag", tmp_path / "pipe.wav", "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 1 and "not a regular file" in json.loads(out)["error"]
    with pytest.raises(MusictagError, match="not a musicnn wheel"):
        Tagger("mtt-musicnn", weights=song)


def test_video_without_audio_says_so(capsys, tmp_path, tiny_model_dir):
    from musictag.audio.decode import ffmpeg_executable

    exe = ffmpeg_executable()
    video = tmp_path / "silent.mp4"
    made = (
        exe
        and subprocess.run(
            [exe, "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=32x32:d=1", "-c:v", "mpeg4", str(video)],
            capture_output=True,
        ).returncode
        == 0
    )
    if not made:
        pytest.skip("no ffmpeg to make a video")
    code, out, _ = run(capsys, "tag", video, "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 1 and json.loads(out)["error"].endswith("cannot decode (no audio stream)")


def test_manifests_report_unlabelled_rows_and_refuse_leakage(tmp_path, write_audio):
    a = write_audio("a.wav", tone(1.0, 16000), 16000)
    b = write_audio("b.wav", tone(1.0, 16000, 300), 16000)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,labels,split\n{a},x,train\n{b},,train\n")
    assert any("has no labels" in p for p in open_dataset(str(manifest)).problems)
    manifest.write_text(f"path,labels,split\n{a},x,train\n{b},y,train\n{a},x,test\n")
    with pytest.raises(ParameterError, match="more than one split"):
        open_dataset(str(manifest))
    assert len(open_dataset(f"manifest:{manifest}?overlap=allow")) == 3


# -- confusing output ------------------------------------------------------------------


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
    code, out, _ = run(capsys, "train", two, "-o", tmp_path / "run")
    assert code == 0 and "fit: " in out and "C " in out and "read as folders" in out
    code, _, err = run(
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
    code, _, err = run(capsys, "compare", tmp_path / "run")
    assert code == 1 and "musictag evaluate" in err


def test_ctrl_c_keeps_the_files_already_tagged(capsys, tmp_path, write_audio, tiny_model_dir, monkeypatch):
    paths = [write_audio(f"m/{n}.wav", music_like(1.0, 16000, seed=n), 16000) for n in range(4)]
    real = Tagger.tag_many

    def interrupted(self, files, **options):
        for n, result in enumerate(real(self, files, **options)):
            if n == 2:
                raise KeyboardInterrupt
            yield result

    monkeypatch.setattr(Tagger, "tag_many", interrupted)
    out = tmp_path / "o.jsonl"
    code, _, err = run(capsys, "tag", *paths, "--model", tiny_model_dir, "--format", "jsonl", "-o", out)
    assert code == 130 and "interrupted after 2 of 4 files" in err
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 2


def test_embed_writes_the_name_asked_and_short_or_silent_files_warn(capsys, tmp_path, write_audio, tiny_model_dir):
    short = write_audio("short.wav", tone(0.1, 16000), 16000)
    silent = write_audio("silent.wav", np.zeros(16000 * 4, np.float32), 16000)
    code, _, err = run(capsys, "embed", short, silent, "--model", tiny_model_dir, "-o", tmp_path)
    assert code == 1 and "is a folder" in err
    code, _, err = run(capsys, "embed", short, silent, "--model", tiny_model_dir, "-o", tmp_path / "vectors")
    assert code == 0 and (tmp_path / "vectors").is_file() and not (tmp_path / "vectors.npz").exists()
    assert "short.wav: 0.10 s is shorter than one" in err and "silent.wav: digital silence" in err
    code, _, err = run(capsys, "tag", silent, "--model", tiny_model_dir, "--hop", "10")
    assert code == 0 and "the hop (10.00 s) is longer than the file" in err


def test_every_option_has_help_and_the_commands_agree(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices

    def walk(sub, name):
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help"
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                for child, child_parser in action.choices.items():
                    walk(child_parser, f"{name} {child}")

    for name in (*COMMANDS, "compare"):
        walk(commands[name], name)
    for name in ("tag", "embed", "evaluate", "train"):
        assert "--quiet" in commands[name].format_help()
    assert "--device" in commands["tag"].format_help()
    assert "-o" in commands["synth"]._actions[-1].choices["audio"].format_help()
    done = subprocess.run([sys.executable, "-m", "musictag", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "COMMAND" in done.stdout
    assert (Path(tagger_module.__file__).parents[1] / "py.typed").is_file()


def test_a_missing_synthesizer_is_said_once_before_any_clip(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)  # import fails
    records = [{"id": str(n), "genre": "rock", "prompt": "a rock song", "seed": n} for n in range(3)]
    with pytest.raises(ParameterError, match="needs 'tinysoundfont'"):
        synthesize(records, tmp_path, duration=1.0)
    assert not list(tmp_path.rglob("*.flac"))
