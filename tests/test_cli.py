import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from musictag.cli.main import main

from conftest import music_like


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


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_with_failures(capsys, folder, tiny_model_dir):
    code, out, err = run(capsys, "tag", folder, "--model", tiny_model_dir, "--format", "json", "--top-k", "0")
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
    code, out, err = run(
        capsys, "tag", folder / "b.flac", "--model", tiny_model_dir, "--format", "jsonl", "--timeline", "--top-k", "2"
    )
    assert code == 0 and err == ""
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert len(record["tags"]) == 2
    assert [(s["start"], s["end"]) for s in record["timeline"]] == [(0.0, 2.992), (2.992, 5.984)]


def test_csv_and_table_formats(capsys, folder, tiny_model_dir):
    code, out, _ = run(
        capsys, "tag", folder / "a.wav", folder / "empty.wav", "--model", tiny_model_dir, "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1
    assert [r["tag"] for r in rows if r["path"].endswith("a.wav")] != []
    assert len([r for r in rows if r["path"].endswith("a.wav")]) == 5  # default top-k 5
    assert [r["error"] for r in rows if r["path"].endswith("empty.wav")][0].endswith("file is empty (0 bytes)")
    code, out, _ = run(capsys, "tag", folder / "a.wav", "--model", tiny_model_dir, "--top-k", "3")
    assert code == 0 and "a.wav  (4.0 s, tiny)" in out and out.count("#") > 0


def test_output_file_is_written_atomically(capsys, folder, tiny_model_dir, tmp_path):
    target = tmp_path / "out" / "tags.json"
    code, out, _ = run(capsys, "tag", folder / "a.wav", "--model", tiny_model_dir, "--format", "json", "-o", target)
    assert code == 0 and out == ""
    assert json.loads(target.read_text())[0]["path"].endswith("a.wav")
    assert [p.name for p in target.parent.iterdir()] == ["tags.json"]  # no temporary left behind


def test_missing_path_and_recursive_walk(capsys, folder, tiny_model_dir, tmp_path):
    code, out, err = run(capsys, "tag", tmp_path / "nothing.mp3", "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 1 and "no such file" in err and json.loads(out)["error"].endswith("no such file")
    nested = tmp_path / "nested"
    nested.mkdir()
    folder.rename(nested / "inner")
    code, out, _ = run(capsys, "tag", nested, "--model", tiny_model_dir, "--format", "jsonl", "-r")
    assert len(out.splitlines()) == 5
    code, out, err = run(capsys, "tag", nested, "--model", tiny_model_dir)
    assert code == 1 and "no audio files found" in err


def test_embed_per_file_and_per_patch(capsys, folder, tiny_model_dir, tmp_path):
    target = tmp_path / "emb.npz"
    code, _, err = run(
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
    code, _, _ = run(
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
    code, out, _ = run(capsys, "models", "list", "--format", "json")
    names = [m["name"] for m in json.loads(out)]
    assert code == 0 and names == ["mtt-musicnn", "msd-musicnn", "mtt-vgg", "msd-vgg"]
    assert json.loads(out)[0]["tags"][:3] == ["guitar", "classical", "slow"]
    monkeypatch.setenv("MUSICTAG_OFFLINE", "1")
    code, _, err = run(capsys, "models", "pull", "mtt-vgg")
    assert code == 1 and err.count("\n") == 1 and "musictag models pull mtt-vgg" in err
    code, _, err = run(capsys, "tag", folder, "--model", "mtt-musicnn", "--weights", tmp_path / "absent")
    assert code == 1 and "does not exist" in err


def test_console_script_entry_point():
    done = subprocess.run([sys.executable, "-m", "musictag.cli.main", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("musictag ")
