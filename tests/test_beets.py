"""The beets plugin against a real beets: import with auto, beet musictag, queries, writing, reruns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf

from test_describe import RATE, cadence, clicks

pytest.importorskip("beets", reason="the beets plugin needs beets: pip install 'musictag[beets]'")


def beet(home: Path, *args: str) -> subprocess.CompletedProcess:
    """``beet ARGS`` with the library and config in ``home``."""
    env = {**os.environ, "BEETSDIR": str(home), "HOME": str(home)}
    command = [sys.executable, "-c", "import sys; from beets.ui import main; sys.exit(main())", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def beets_home(tmp_path, tiny_model_dir) -> Path:
    home = tmp_path / "beets"
    (home / "in").mkdir(parents=True)
    for name, key, bpm in (("one", 9, 96), ("two", 2, 132)):
        audio = cadence(key, "minor" if key == 9 else "major", bars=3) + clicks(bpm, seconds=12.0, seed=key)
        sf.write(home / "in" / f"{name}.flac", audio, RATE)
    (home / "config.yaml").write_text(
        f"""directory: {home / "music"}
library: {home / "library.db"}
plugins: musictag
import:
  copy: yes
  write: yes
  autotag: no
  quiet: yes
musictag:
  models: [{tiny_model_dir}]
  auto: yes
  top_k: 2
  bpm: yes
  initial_key: yes
  genre:
    enabled: yes
    threshold: 0.0
"""
    )
    return home


def _fields(home: Path, template: str) -> list[str]:
    done = beet(home, "ls", "-f", template)
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.splitlines())


def test_import_tags_items_and_their_files_and_a_rerun_does_no_work(beets_home, tiny_model_dir):
    from musictag.models.model_folder import read_config

    labels = read_config(tiny_model_dir).labels
    imported = beet(beets_home, "import", "-A", str(beets_home / "in"))
    assert imported.returncode == 0, imported.stderr
    rows = _fields(beets_home, "$initial_key|$bpm|$musictag_key|$musictag_bpm|$musictag_tags|$genre|$path")
    assert [row.split("|")[:2] for row in rows] == [["Am", "96"], ["D", "132"]] or [
        row.split("|")[:2] for row in rows
    ] == [["D", "132"], ["Am", "96"]]
    for row in rows:
        initial_key, bpm, key, tempo, tags, genre, path = row.split("|")
        assert key in ("A minor", "D major") and float(tempo) == pytest.approx(int(bpm), abs=0.6)
        assert len(tags.split(", ")) == 2 and set(tags.split(", ")) <= set(labels)
        assert genre.lower() == tags.split(", ")[0]  # the best tag, at threshold 0
        written = mutagen.File(path).tags
        assert written["MUSICTAG_TAGS"] == [tags] and written["BPM"] == [bpm] and written["INITIALKEY"] == [initial_key]
    # every tag score is a float field that range queries read
    field = "musictag_" + labels[0].lower().replace(" ", "_")
    everything = beet(beets_home, "ls", f"{field}:0..1")
    nothing = beet(beets_home, "ls", f"{field}:1.01..")
    assert len(everything.stdout.splitlines()) == 2 and nothing.stdout.strip() == ""

    # beet write puts the fields back into a file that lost them
    stripped = mutagen.File(rows[0].split("|")[-1])
    for name in ("MUSICTAG_TAGS", "BPM", "INITIALKEY"):
        del stripped[name]
    stripped.save()
    assert beet(beets_home, "write").returncode == 0
    restored = mutagen.File(rows[0].split("|")[-1])
    assert restored["MUSICTAG_TAGS"] == [rows[0].split("|")[4]] and restored["BPM"] == [rows[0].split("|")[1]]

    # the audio itself is untouched by writing tags
    original = sf.read(beets_home / "in" / "one.flac")[0]
    copies = [sf.read(r.split("|")[-1])[0] for r in rows]
    assert any(len(c) == len(original) and np.array_equal(c, original) for c in copies)

    # beet musictag on the unchanged library: nothing is tagged, no item changes, no file is rewritten
    stamps = {r.split("|")[-1]: os.stat(r.split("|")[-1]).st_mtime_ns for r in rows}
    again = beet(beets_home, "-v", "musictag", "-w")
    assert again.returncode == 0, again.stderr
    assert "0 tagged" in again.stderr and "0 of 2 items updated" in again.stderr
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps


def test_a_file_that_fails_is_one_line_and_the_others_are_tagged(beets_home):
    assert beet(beets_home, "import", "-A", str(beets_home / "in")).returncode == 0
    paths = [row.split("|")[-1] for row in _fields(beets_home, "$musictag_tags|$path")]
    broken = Path(paths[0])
    broken.write_bytes(b"fLaC but not really")  # beets still has the item; its audio is gone
    sf.write(paths[1], clicks(100, seconds=8.0), RATE)  # the other file: new audio, tagged again
    again = beet(beets_home, "-v", "musictag")
    assert again.returncode == 0, again.stderr
    errors = [line for line in again.stderr.splitlines() if broken.name in line and "musictag" in line]
    assert len(errors) == 1 and "Traceback" not in again.stderr
    assert "1 tagged" in again.stderr
