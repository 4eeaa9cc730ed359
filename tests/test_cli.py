"""The command line: tag, embed and the options every command shares, as a user meets them."""

import csv
import io
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
from musictag.cli.main import COMMANDS, build_parser
from musictag.errors import MusictagError
from musictag.inference import tagger as tagger_module

from conftest import music_like, run_main, tone, usage_error

MUSICTAG = Path(sys.executable).with_name("musictag")


@pytest.fixture
def folder(write_audio, tmp_path):
    """A folder mixing good audio, an empty file, a text file named .mp3 and a corrupt flac."""
    write_audio("music/a.wav", music_like(4.0, 16000), 16000)
    write_audio("music/b.flac", music_like(7.0, 22050, seed=3), 22050)
    (tmp_path / "music" / "empty.wav").write_bytes(b"")
    (tmp_path / "music" / "readme.mp3").write_text("hello\n" * 100)
    good = write_audio("c.flac", music_like(5.0, 22050, seed=4), 22050)
    (tmp_path / "music" / "corrupt.flac").write_bytes(good.read_bytes()[:3000])
    return tmp_path / "music"


MUSICTAG = Path(sys.executable).with_name("musictag")


def test_json_output_with_failures(capsys, folder, tiny_model_dir):
    code, out, err = run_main(capsys, "tag", folder, "--model", tiny_model_dir, "--format", "json", "--top-k", "0")
    assert code == 1
    records = {r["path"].split("/")[-1]: r for r in json.loads(out)}
    assert set(records) == {"a.wav", "b.flac", "corrupt.flac", "empty.wav", "readme.mp3"}
    good = records["a.wav"]
    assert good["model"] == "tiny" and good["duration"] == pytest.approx(4.0)
    scores = [t["score"] for t in good["tags"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    for bad in ("corrupt.flac", "empty.wav", "readme.mp3"):
        assert set(records[bad]) == {"path", "error"}
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 4  # one line per bad file, then the summary
    assert all(line.startswith("musictag: ") for line in lines) and "3 of 5 files failed" in lines[-1]
    assert "Traceback" not in err


def test_all_good_exits_zero_with_timeline_jsonl(capsys, folder, tiny_model_dir):
    code, out, err = run_main(
        capsys, "tag", folder / "b.flac", "--model", tiny_model_dir, "--format", "jsonl", "--timeline", "--top-k", "2"
    )
    assert code == 0 and err == ""
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert len(record["tags"]) == 2
    assert [(s["start"], s["end"]) for s in record["timeline"]] == [(0.0, 2.992), (2.992, 5.984)]


def test_csv_and_table_formats(capsys, folder, tiny_model_dir):
    code, out, _ = run_main(
        capsys, "tag", folder / "a.wav", folder / "empty.wav", "--model", tiny_model_dir, "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1
    assert [r["tag"] for r in rows if r["path"].endswith("a.wav")] != []
    assert len([r for r in rows if r["path"].endswith("a.wav")]) == 5  # default top-k 5
    assert [r["error"] for r in rows if r["path"].endswith("empty.wav")][0].endswith("file is empty (0 bytes)")
    code, out, _ = run_main(capsys, "tag", folder / "a.wav", "--model", tiny_model_dir, "--top-k", "3")
    assert code == 0 and "a.wav  (4.0 s, tiny)" in out and out.count("#") > 0


def test_output_file_is_written_atomically(capsys, folder, tiny_model_dir, tmp_path):
    target = tmp_path / "out" / "tags.json"
    code, out, _ = run_main(
        capsys, "tag", folder / "a.wav", "--model", tiny_model_dir, "--format", "json", "-o", target
    )
    assert code == 0 and out == ""
    assert json.loads(target.read_text())[0]["path"].endswith("a.wav")
    assert [p.name for p in target.parent.iterdir()] == ["tags.json"]  # no temporary left behind


def test_missing_path_and_recursive_walk(capsys, folder, tiny_model_dir, tmp_path):
    code, out, err = run_main(capsys, "tag", tmp_path / "nothing.mp3", "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 1 and "no such file" in err and json.loads(out)["error"].endswith("no such file")
    nested = tmp_path / "nested"
    nested.mkdir()
    folder.rename(nested / "inner")
    code, out, _ = run_main(capsys, "tag", nested, "--model", tiny_model_dir, "--format", "jsonl", "-r")
    assert len(out.splitlines()) == 5
    code, out, err = run_main(capsys, "tag", nested, "--model", tiny_model_dir)
    assert code == 1 and "no audio files found" in err


def test_embed_per_file_and_per_patch(capsys, folder, tiny_model_dir, tmp_path):
    target = tmp_path / "emb.npz"
    code, _, err = run_main(
        capsys,
        "embed",
        folder / "a.wav",
        folder / "b.flac",
        folder / "empty.wav",
        "--model",
        tiny_model_dir,
        "--output",
        target,
    )
    assert code == 1 and "empty.wav" in err
    data = np.load(target)
    assert data["embeddings"].shape == (2, 16) and list(data["paths"]) == [
        str(folder / "a.wav"),
        str(folder / "b.flac"),
    ]
    code, _, _ = run_main(
        capsys,
        "embed",
        folder / "a.wav",
        folder / "b.flac",
        "--model",
        tiny_model_dir,
        "--layer",
        "mean_pool",
        "--per-patch",
        "--output",
        target,
    )
    data = np.load(target)
    assert code == 0 and data["embeddings"].shape == (3, 45)
    assert list(data["file_index"]) == [0, 1, 1] and str(data["layer"]) == "mean_pool"
    np.testing.assert_allclose(data["patch_start"], [0, 0, 2.992])


def test_models_list_and_unavailable_pull(capsys, monkeypatch, folder, tmp_path):
    code, out, _ = run_main(capsys, "models", "list", "--format", "json")
    names = [m["name"] for m in json.loads(out)]
    assert code == 0 and names == ["mtt-musicnn", "msd-musicnn", "mtt-vgg", "msd-vgg"]
    assert json.loads(out)[0]["tags"][:3] == ["guitar", "classical", "slow"]
    monkeypatch.setenv("MUSICTAG_OFFLINE", "1")
    code, _, err = run_main(capsys, "models", "pull", "mtt-vgg")
    assert code == 1 and err.count("\n") == 1 and "musictag models pull mtt-vgg" in err
    code, _, err = run_main(capsys, "tag", folder, "--model", "mtt-musicnn", "--weights", tmp_path / "absent")
    assert code == 1 and "does not exist" in err


def test_console_script_entry_point():
    done = subprocess.run([sys.executable, "-m", "musictag.cli.main", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("musictag ")


def test_warnings_of_one_kind_are_one_line_and_errors_stay_one_each(capsys, write_audio, tiny_model_dir, tmp_path):
    """Defect 15: a batch of short clips printed one warning line per clip, burying the real errors."""
    folder = tmp_path / "short"
    for i in range(12):
        write_audio(f"short/clip{i:02d}.wav", music_like(1.0 + i / 10, 16000, seed=i), 16000)
    write_audio("short/silent.wav", np.zeros(16000 * 4, np.float32), 16000)
    (folder / "broken.wav").write_bytes(b"RIFF")
    (folder / "broken2.mp3").write_text("not audio")
    code, _, err = run_main(capsys, "tag", folder, "--model", tiny_model_dir, "-q", "--format", "csv")
    lines = err.splitlines()
    assert code == 1 and len(lines) == 5, err  # two errors, two kinds of warning, the summary
    assert "12 files: shorter than one patch" in err and "--verbose lists them" in err
    assert "silent.wav: digital silence" in err  # a kind seen once is said in full
    assert lines[-1] == "musictag: 2 of 15 files failed"
    code, _, err = run_main(capsys, "tag", folder, "--model", tiny_model_dir, "-q", "--format", "csv", "--verbose")
    assert err.count("is shorter than one") == 12


def test_a_library_rerun_counts_failures_of_every_file(capsys, write_audio, tiny_model_dir, tmp_path):
    """Low: "2 of 2 files failed" on a rerun of 17 files."""
    for i in range(3):
        write_audio(f"lib/t{i}.wav", music_like(3.5, 16000, seed=i), 16000)
    (tmp_path / "lib" / "broken.wav").write_bytes(b"RIFF")
    args = ("tag", tmp_path / "lib", "--db", tmp_path / "lib.sqlite", "--model", tiny_model_dir, "-q")
    assert run_main(capsys, *args)[0] == 1
    code, _, err = run_main(capsys, *args)
    assert code == 1 and "1 of 4 files failed" in err
    code, out, _ = run_main(capsys, "library", "stats", "--db", tmp_path / "lib.sqlite")
    assert "failed: 1 file, e.g.:" in out


def test_bad_output_paths_are_refused_before_any_work(capsys, folder, tiny_model_dir, tmp_path, monkeypatch):
    """Defect 8 (tag, embed, models export): -o /proc/x.csv failed with a traceback after tagging; models export
    --onnx some_folder/ likewise; embed -o emb.txt wrote npz data under a .txt name."""
    from musictag.inference import tagger as tagger_module

    monkeypatch.setattr(tagger_module.Tagger, "__init__", lambda *a, **k: pytest.fail("the model was loaded"))
    code, _, err = run_main(capsys, "tag", folder / "a.wav", "--model", tiny_model_dir, "-o", "/proc/x.csv")
    assert code == 1 and "/proc/x.csv: cannot write into /proc" in err and len(err.splitlines()) == 1
    code, _, err = run_main(capsys, "embed", folder / "a.wav", "--model", tiny_model_dir, "-o", tmp_path / "emb.txt")
    assert code == 1 and "embed writes numpy .npz data, not .txt" in err and not (tmp_path / "emb.txt").exists()
    code, _, err = run_main(capsys, "models", "export", tiny_model_dir, "--onnx", tmp_path)
    assert code == 1 and "is a folder" in err and len(err.splitlines()) == 1


def test_excerpts_none_is_read_alike_by_train_and_evaluate_before_any_work(capsys, tiny_model_dir, tmp_path):
    """Low: evaluate --excerpts none was refused after loading data while train accepted it."""
    from musictag.cli.main import build_parser

    parser = build_parser()
    for argv in (["train", "gtzan-svm"], ["evaluate", str(tiny_model_dir), "--data", "gtzan:x"]):
        assert parser.parse_args([*argv, "--excerpts", "none"]).excerpts is None
        assert parser.parse_args([*argv, "--excerpts", "2-3"]).excerpts == "2-3"
        with pytest.raises(SystemExit) as stop:
            parser.parse_args([*argv, "--excerpts", "3-2"])
        assert stop.value.code == 2 and "--excerpts" in capsys.readouterr().err


def test_an_output_over_an_input_is_refused(capsys, song, tiny_model_dir):
    before = song.read_bytes()
    code, _, err = run_main(capsys, "tag", song, "--model", tiny_model_dir, "-o", song)
    assert code == 1 and "is one of the input files" in err and song.read_bytes() == before
    link = song.with_name("link.flac")
    link.symlink_to(song)
    assert run_main(capsys, "tag", link, "--model", tiny_model_dir, "-o", song)[0] == 1  # same inode, other name
    assert song.read_bytes() == before


@pytest.mark.parametrize("hop", ["nan", "inf", "0", "-1"])
def test_bad_hop_is_a_usage_error_naming_the_flag(capsys, song, hop):
    assert "--hop" in usage_error(capsys, "tag", song, f"--hop={hop}")


def test_outputs_are_checked_before_any_work(capsys, song, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(Tagger, "tag_many", lambda *a, **k: pytest.fail("tagged before checking the output"))
    code, _, err = run_main(capsys, "tag", song, "--model", tiny_model_dir, "-o", tmp_path)
    assert code == 1 and "is a folder" in err and err.count("\n") == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = run_main(capsys, "tag", song, "--model", tiny_model_dir, "-o", blocker / "sub" / "out.csv")
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


def test_file_names_that_are_not_utf8_are_tagged(capsys, tmp_path, tiny_model_dir):
    name = os.fsdecode(b"caf\xe9.wav")
    sf.write(os.fsencode(tmp_path / name), music_like(4.0, 16000), 16000)
    code, out, err = run_main(capsys, "tag", tmp_path, "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 0 and err == "" and json.loads(out)["path"] == str(tmp_path / name)


def test_model_folders_pipes_silent_videos_and_weights_each_get_their_line(capsys, song, tmp_path, tiny_model_dir):
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    code, _, err = run_main(capsys, "tag", song, "--model", half)
    assert code == 1 and "has no model.safetensors" in err
    os.mkfifo(tmp_path / "pipe.wav")
    code, out, err = run_main(capsys, "tag", tmp_path / "pipe.wav", "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 1 and "not a regular file" in json.loads(out)["error"]
    with pytest.raises(MusictagError, match="not a musicnn wheel"):
        Tagger("mtt-musicnn", weights=song)


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
    code, _, err = run_main(capsys, "tag", *paths, "--model", tiny_model_dir, "--format", "jsonl", "-o", out)
    assert code == 130 and "interrupted after 2 of 4 files" in err
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 2


def test_embed_writes_the_name_asked_and_short_or_silent_files_warn(capsys, tmp_path, write_audio, tiny_model_dir):
    short = write_audio("short.wav", tone(0.1, 16000), 16000)
    silent = write_audio("silent.wav", np.zeros(16000 * 4, np.float32), 16000)
    code, _, err = run_main(capsys, "embed", short, silent, "--model", tiny_model_dir, "-o", tmp_path)
    assert code == 1 and "is a folder" in err
    code, _, err = run_main(capsys, "embed", short, silent, "--model", tiny_model_dir, "-o", tmp_path / "vectors")
    assert code == 0 and (tmp_path / "vectors").is_file() and not (tmp_path / "vectors.npz").exists()
    assert "short.wav: 0.10 s is shorter than one" in err and "silent.wav: digital silence" in err
    code, _, err = run_main(capsys, "tag", silent, "--model", tiny_model_dir, "--hop", "10")
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

    for name in COMMANDS:
        walk(commands[name], name)
    for name in ("tag", "embed", "evaluate", "train"):
        assert "--quiet" in commands[name].format_help()
    assert "--device" in commands["tag"].format_help()
    assert "-o" in commands["synth"]._actions[-1].choices["audio"].format_help()
    done = subprocess.run([sys.executable, "-m", "musictag", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "COMMAND" in done.stdout
    assert (Path(tagger_module.__file__).parents[1] / "py.typed").is_file()
