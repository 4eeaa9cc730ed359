"""The library: a database that survives SIGKILL, tags written into files without touching anything
else, query and similar tracks. The library is built here from generated and transcoded audio."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musictag.audio.decode import ffmpeg_executable
from musictag.errors import ParameterError
from musictag.library.filetags import read_genre, read_tags, write_tags
from musictag.library.query import Query

from conftest import music_like, run_main, wait_for_port

FFMPEG = ffmpeg_executable()
FFPROBE = shutil.which("ffprobe")
ENCODE = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "ogg": ["-c:a", "libvorbis"],
    "opus": ["-c:a", "libopus"],
    "aiff": [],
    "flac": [],
    "wav": [],
}
COVER = base64.b64decode(  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="no ffmpeg (imageio-ffmpeg or on PATH) to transcode")


def transcode(source: Path, target: Path) -> Path:
    subprocess.run(
        [FFMPEG, "-y", "-v", "error", "-i", str(source), *ENCODE[target.suffix[1:]], str(target)], check=True
    )
    return target


def add_existing_tags(path: Path) -> None:
    """Tags and cover art a user's tagger would have put there, in the format's own way."""
    import mutagen
    from mutagen.flac import Picture
    from mutagen.id3 import APIC, ID3, TALB, TIT2, TPE1
    from mutagen.mp4 import MP4Cover

    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    if isinstance(audio.tags, ID3):
        audio.tags.add(TIT2(encoding=3, text=["A title"]))
        audio.tags.add(TPE1(encoding=3, text=["An artist"]))
        audio.tags.add(TALB(encoding=1, text=["Ålbum"]))
        audio.tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=COVER))
        audio.save(v2_version=3 if path.stem.endswith("v23") else 4)
        return
    if path.suffix == ".m4a":
        audio.tags["\xa9nam"] = ["A title"]
        audio.tags["\xa9ART"] = ["An artist"]
        audio.tags["covr"] = [MP4Cover(COVER, imageformat=MP4Cover.FORMAT_PNG)]
        audio.save()
        return
    picture = Picture()
    picture.type, picture.mime, picture.data = 3, "image/png", COVER
    audio.tags["TITLE"] = ["A title"]
    audio.tags["ARTIST"] = ["An artist"]
    if path.suffix == ".flac":
        audio.add_picture(picture)
    else:
        audio.tags["METADATA_BLOCK_PICTURE"] = [base64.b64encode(picture.write()).decode("ascii")]
    audio.save()


def make_tagged_files(folder: Path, *, seed: int = 0) -> list[Path]:
    """One file per format, most with tags and cover art (an ID3v2.3 MP3 among them)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / ".source.wav"
    sf.write(source, np.stack([music_like(4.0, 44100, seed=seed), music_like(4.0, 44100, seed=seed + 1)], 1), 44100)
    # the WAV without a RIFF INFO list (ffmpeg would add one): ffmpeg ignores a WAV's ID3 chunk next to one
    files = [transcode(source, folder / f"song.{ext}") for ext in ENCODE if ext != "wav"]
    shutil.copy(source, folder / "song.wav")
    files.append(folder / "song.wav")
    files.append(transcode(source, folder / "old-v23.mp3"))
    for path in files:
        if path.suffix != ".wav":  # one file without any tags
            add_existing_tags(path)
    source.unlink()
    return files


@pytest.fixture(scope="module")
def library_folder(tmp_path_factory) -> tuple[Path, int, list[Path]]:
    """Every format, broken and empty files, non-audio, a symlink loop and 1,000 small files in a nested
    folder. Returns (folder, number of good audio files, broken files)."""
    if FFMPEG is None:
        pytest.skip("no ffmpeg to transcode the library")
    root = tmp_path_factory.mktemp("library")
    good = make_tagged_files(root / "formats")
    many = root / "many" / "nested" / "deeper"
    many.mkdir(parents=True)
    clip = music_like(0.4, 16000, seed=3)
    for i in range(1000):
        sf.write(many / f"clip{i:04d}.wav", np.roll(clip, i * 7), 16000)
    broken = root / "broken"
    broken.mkdir()
    (broken / "empty.wav").write_bytes(b"")
    (broken / "text.mp3").write_text("not audio at all\n")
    (broken / "noise.flac").write_bytes(np.random.default_rng(0).bytes(5000))
    (broken / "truncated.m4a").write_bytes(good[2].read_bytes()[:400])
    (root / "notes.txt").write_text("skipped by extension")
    (root / "many" / "loop").symlink_to("..", target_is_directory=True)  # a link back up the tree
    return root, len(good) + 1000, sorted(broken.iterdir())


def musictag(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "musictag", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def results_in(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet
            return 0


@pytest.mark.slow
def test_tag_db_killed_halfway_resumes_and_tags_every_good_file_once(library_folder, tiny_model_dir, tmp_path):
    root, n_good, broken = library_folder
    db = tmp_path / "library.sqlite"
    command = [
        sys.executable,
        "-m",
        "musictag",
        "tag",
        str(root),
        "-r",
        "--db",
        str(db),
        "--model",
        str(tiny_model_dir),
        "-q",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while results_in(db) < 300 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed halfway"
    process.send_signal(signal.SIGKILL)
    process.wait()
    committed = results_in(db)
    assert 300 <= committed < n_good

    rerun = musictag("tag", str(root), "-r", "--db", str(db), "--model", str(tiny_model_dir), "-q")
    assert rerun.returncode == 1  # the broken files
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = json.loads(conn.execute("SELECT counts FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0])
        assert counts["tagged"] == n_good - committed  # the rest, and nothing a second time
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == n_good
        assert (
            conn.execute(
                "SELECT COUNT(DISTINCT f.path) FROM files f JOIN results r ON r.file_id=f.id WHERE f.status='tagged'"
            ).fetchone()[0]
            == n_good
        )
        errors = dict(conn.execute("SELECT path, error FROM files WHERE status='failed'").fetchall())
    assert sorted(errors) == [str(path) for path in broken]
    for path, error in errors.items():
        assert error.startswith(path) and "\n" not in error
        assert error in rerun.stderr
    assert "Traceback" not in rerun.stderr
    assert not any("notes.txt" in path or "/loop/" in path for path in errors)

    again = musictag("tag", str(root), "-r", "--db", str(db), "--model", str(tiny_model_dir), "-q")
    assert again.returncode == 1
    assert f"0 tagged, {n_good} unchanged" in again.stderr


def test_moved_copied_and_deleted_files(tiny_model_dir, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(3):
        sf.write(folder / f"t{i}.wav", music_like(3.5, 16000, seed=i), 16000)
    db = tmp_path / "lib.sqlite"
    args = ("tag", str(folder), "--db", str(db), "--model", str(tiny_model_dir), "-q")
    assert musictag(*args).returncode == 0
    (folder / "t0.wav").rename(folder / "renamed.wav")
    shutil.copy(folder / "t1.wav", folder / "copy.wav")
    (folder / "t2.wav").unlink()
    sf.write(folder / "new.wav", music_like(3.5, 16000, seed=9), 16000)
    done = musictag(*args)
    assert done.returncode == 0
    assert "1 tagged, 1 unchanged, 2 reused (same content elsewhere), 0 failed, 1 gone" in done.stderr
    with sqlite3.connect(db) as conn:
        status = dict(conn.execute("SELECT path, status FROM files").fetchall())
    names = {Path(p).name: s for p, s in status.items()}
    assert names == {
        "renamed.wav": "tagged",
        "t1.wav": "tagged",
        "copy.wav": "tagged",
        "new.wav": "tagged",
        "t2.wav": "missing",
    }


def decoded(path: Path) -> bytes:
    """The decoded audio, as ffmpeg gives it (metadata plays no part)."""
    return subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map", "0:a", "-f", "s16le", "-"], capture_output=True, check=True
    ).stdout


def other_tags(path: Path) -> dict:
    """Every tag that is not musictag's, with the pictures' bytes."""
    import mutagen

    audio = mutagen.File(path)
    found = {}
    for key, value in (audio.tags or {}).items():
        if "MUSICTAG" in key.upper() or "org.musictag" in key:
            continue
        found[key] = repr(value)
    if hasattr(audio, "pictures"):
        found["pictures"] = [p.data for p in audio.pictures]
    return found


def ffprobe_tags(path: Path) -> dict[str, str]:
    shown = subprocess.run(
        [FFPROBE, "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(shown.stdout)
    tags = dict(data.get("format", {}).get("tags", {}))
    for stream in data.get("streams", []):
        tags.update(stream.get("tags", {}))
    return {key.upper(): value for key, value in tags.items()}


@needs_ffmpeg
def test_write_tags_changes_only_musictags_fields(tiny_model_dir, tmp_path):
    folder = tmp_path / "music"
    files = make_tagged_files(folder)
    before = {path: (decoded(path), other_tags(path)) for path in files}
    db = tmp_path / "lib.sqlite"
    assert musictag("tag", str(folder), "--db", str(db), "--model", str(tiny_model_dir), "-q").returncode == 0

    done = musictag("library", "write-tags", "--db", str(db), "--top-k", "3", "-q")
    assert done.returncode == 0, done.stderr
    for path in files:
        fields = read_tags(path)
        assert fields["MUSICTAG_MODEL"] == ["tiny"]
        assert len(fields["MUSICTAG_TAGS"]) == 3 and all(t.startswith("tag") for t in fields["MUSICTAG_TAGS"])
        assert [s.split("=")[0] for s in fields["MUSICTAG_SCORES"]] == fields["MUSICTAG_TAGS"]
        audio, others = before[path]
        assert decoded(path) == audio, f"{path.name}: the audio changed"
        assert other_tags(path) == others, f"{path.name}: other tags changed"
        if FFPROBE:
            probed = ffprobe_tags(path)
            key = "MUSICTAG_TAGS" if "MUSICTAG_TAGS" in probed else "TAGS"  # MP4 freeform atoms show by name
            assert fields["MUSICTAG_TAGS"][0] in probed[key], f"{path.name}: ffprobe sees {probed}"
    assert not list(folder.glob(".*tmp*")), "temporary copies left behind"
    # writing tags changed the files' bytes, not their music: a rerun of tag --db has nothing to do
    rerun = musictag("tag", str(folder), "--db", str(db), "--model", str(tiny_model_dir), "-q")
    assert "0 tagged, 8 unchanged" in rerun.stderr

    cleared = musictag("library", "clear-tags", "--db", str(db), "-q")
    assert cleared.returncode == 0, cleared.stderr
    for path in files:
        assert read_tags(path) == {}
        assert decoded(path) == before[path][0] and other_tags(path) == before[path][1]


@needs_ffmpeg
def test_write_tags_reports_read_only_and_tagless_files_and_goes_on(tiny_model_dir, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    transcode_from = folder / ".src.wav"
    sf.write(transcode_from, music_like(3.5, 22050, seed=4), 22050)
    ok = transcode(transcode_from, folder / "ok.flac")
    locked = transcode(transcode_from, folder / "locked.flac")
    au = folder / "sun.au"
    sf.write(au, music_like(3.5, 22050, seed=5), 22050)
    transcode_from.unlink()
    db = tmp_path / "lib.sqlite"
    assert musictag("tag", str(folder), "--db", str(db), "--model", str(tiny_model_dir), "-q").returncode == 0
    locked.chmod(0o444)
    original = locked.read_bytes()
    done = musictag("library", "write-tags", "--db", str(db), "--genre", "tiny", "-q")
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line]
    assert f"musictag: {locked}: read-only; tags not written" in lines
    assert any(line.startswith(f"musictag: {au}: this format (.au) has no tags") for line in lines)
    assert "Traceback" not in done.stderr
    assert locked.read_bytes() == original
    assert read_tags(ok)["MUSICTAG_MODEL"] == ["tiny"] and read_genre(ok)[0].startswith("tag")


@needs_ffmpeg
def test_write_tags_killed_leaves_every_file_old_or_whole(tmp_path):
    folder = tmp_path / "music"
    files = make_tagged_files(folder)[:3]
    copies = []
    for n in range(60):
        for path in files:
            copy = folder / f"{path.stem}-{n}{path.suffix}"
            shutil.copy(path, copy)
            copies.append(copy)
    original = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in copies}
    fields = {"MUSICTAG_TAGS": ["rock"], "MUSICTAG_SCORES": ["rock=0.900"], "MUSICTAG_MODEL": ["m"]}
    script = (
        "import sys; from musictag.library.filetags import write_tags\n"
        f"for p in sys.argv[1:]: write_tags(p, {fields!r}); print(p, flush=True)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, *map(str, copies)], stdout=subprocess.PIPE)
    for _ in range(40):  # then killed while it writes the next ones
        process.stdout.readline()
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = 0
    for path in copies:
        if hashlib.sha256(path.read_bytes()).hexdigest() != original[path]:
            assert read_tags(path) == fields, f"{path.name} is neither as it was nor fully written"
            written += 1
    assert 0 < written < len(copies), "the kill did not land in the middle of the batch"


def test_write_tags_refuses_a_file_without_write_permission(tmp_path):
    path = tmp_path / "x.flac"
    sf.write(path, music_like(1.0, 22050), 22050)
    path.chmod(0o444)
    from musictag.library.filetags import TagWriteError

    with pytest.raises(TagWriteError, match="read-only"):
        write_tags(path, {"MUSICTAG_MODEL": ["m"]})


def test_query_grammar_on_known_scores():
    labels = ["guitar", "vocal", "hard rock", "80s"]
    scores = np.array([[0.5, 0.1, 0.0, 0.9], [0.5, 0.3, 0.7, 0.0], [0.1, 0.1, 0.9, 0.2]], dtype=np.float32)
    assert Query("guitar > 0.4 and vocal < 0.2", labels)(scores).tolist() == [True, False, False]
    assert Query("guitar>0.4 or 'hard rock' >= 0.9", labels)(scores).tolist() == [True, True, True]
    assert Query("not (hard_rock > 0.5) and 80s>0.5", labels)(scores).tolist() == [True, False, False]
    assert Query("VOCAL = 0.3", labels)(scores).tolist() == [False, True, False]
    for bad, message in [
        ("guitr > 1", "did you mean guitar"),
        ("guitar >", "ends too soon"),
        ("(guitar > 1", "not closed"),
        ("guitar > x", "expected a number"),
        ("", "empty"),
        ("guitar 0.5", "expected <"),
        ("guitar > 1 vocal", "unexpected"),
    ]:
        with pytest.raises(ParameterError, match=message):
            Query(bad, labels)


def test_deeply_nested_queries_are_one_line_errors_with_exit_code_2(tiny_model_dir, tmp_path, capsys):
    """Defect 11: `not not ...` x1000 or 2000 parentheses crashed query with a RecursionError traceback (and a 500
    from the server); query errors exited 1, not 2."""
    labels = ["guitar", "vocal"]
    scores = np.array([[0.5, 0.1]], dtype=np.float32)
    assert Query("not " * 100 + "guitar > 0.4", labels)(scores).tolist() == [True]  # deep, but within the limit
    for deep in ("not " * 1000 + "guitar > 0.4", "(" * 2000 + "guitar > 0.4" + ")" * 2000):
        with pytest.raises(ParameterError, match="nested deeper than 100 levels") as caught:
            Query(deep, labels)
        assert len(str(caught.value)) < 200
    song = tmp_path / "song.wav"
    sf.write(song, music_like(3.5, 16000), 16000)
    db = tmp_path / "lib.sqlite"
    assert run_main(capsys, "tag", song, "--db", db, "--model", tiny_model_dir, "-q")[0] == 0
    code, _, err = run_main(capsys, "library", "query", "--db", db, "(" * 2000 + "tag0 > 0" + ")" * 2000)
    assert code == 2 and len(err.splitlines()) == 1 and "nested deeper" in err
    assert run_main(capsys, "library", "query", "--db", db, "tagg0 > 1")[0] == 2
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from musictag.web.app import ServeSettings, create_app

    client = TestClient(create_app(ServeSettings(model=str(tiny_model_dir), db=str(db))))
    answer = client.get("/api/tracks", params={"query": "not " * 1000 + "tag0 > 0"})
    assert answer.status_code == 400 and "nested deeper" in answer.json()["detail"]


def test_query_similar_stats_and_export(tiny_model_dir, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(4):
        sf.write(folder / f"t{i}.wav", music_like(3.5, 16000, seed=i), 16000)
    shutil.copy(folder / "t0.wav", folder / "twin.wav")
    outside = tmp_path / "outside.wav"
    shutil.copy(folder / "t2.wav", outside)
    db = tmp_path / "lib.sqlite"
    done = musictag("tag", str(folder), "--db", str(db), "--model", str(tiny_model_dir), "--embed", "penultimate", "-q")
    assert done.returncode == 0, done.stderr

    similar = musictag("library", "similar", str(folder / "t0.wav"), "--db", str(db), "-n", "2", "--format", "json")
    rows = json.loads(similar.stdout)
    assert Path(rows[0]["path"]).name == "twin.wav" and rows[0]["similarity"] == pytest.approx(1.0, abs=1e-3)
    embedded_now = musictag("library", "similar", str(outside), "--db", str(db), "-n", "1", "--format", "paths")
    assert Path(embedded_now.stdout.strip()).name == "t2.wav", embedded_now.stderr

    exported = json.loads(musictag("library", "export", "--db", str(db), "--format", "json").stdout)
    assert len(exported) == 5 and set(exported[0]["tags"]) == {f"tag{i}" for i in range(5)}
    values = sorted(row["tags"]["tag1"] for row in exported)
    distinct = sorted(set(values))  # t0 and its twin score alike
    threshold = (distinct[1] + distinct[2]) / 2
    query = musictag("library", "query", "--db", str(db), f"tag1 >= {threshold:.6f}", "--format", "json")
    hits = json.loads(query.stdout)
    assert len(hits) == sum(v >= threshold for v in values) and all(hit["tag1"] >= threshold - 1e-4 for hit in hits)
    assert [hit["tag1"] for hit in hits] == sorted((hit["tag1"] for hit in hits), reverse=True)
    stats = musictag("library", "stats", "--db", str(db))
    assert "5 files: 5 tagged" in stats.stdout and "model tiny" in stats.stdout

    missing = musictag("library", "stats", "--db", str(tmp_path / "nope.sqlite"))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "no such library" in missing.stderr


def test_workers_give_the_same_results_in_the_same_order(tiny_model_dir, tmp_path):
    from musictag.inference.tagger import Tagger

    paths = []
    for i in range(5):
        paths.append(tmp_path / f"t{i}.wav")
        sf.write(paths[-1], music_like(2.0 + i, 16000, seed=i), 16000)
    paths.insert(2, tmp_path / "missing.wav")
    tagger = Tagger(tiny_model_dir)
    here = list(tagger.tag_many(paths, embed="penultimate"))
    pooled = list(tagger.tag_many(paths, embed="penultimate", workers=2))
    assert [r.path for r in here] == [r.path for r in pooled] == [str(p) for p in paths]
    assert pooled[2].error == here[2].error
    for a, b in zip(here, pooled, strict=True):
        if hasattr(a, "scores"):
            np.testing.assert_array_equal(a.scores, b.scores)
            np.testing.assert_array_equal(a.embedding, b.embedding)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A Ray cluster of 2 CPUs on 127.0.0.1 (``ray start --block`` in its own process group, stopped
    afterwards without touching any other Ray cluster on the machine), with Ray's default token
    authentication and a token of its own: nothing is read from the home folder."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'musictag[ray]')")
    token = secrets.token_hex(32)
    # loopback only (Ray binds a cluster to the machine's outward address unless told it is a one-machine
    # cluster); the driver (a musictag process started by the test) reads the same token from RAY_AUTH_TOKEN
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
    }
    port = 46381  # not Ray's default: a user's own cluster may be running
    log = tmp_path_factory.mktemp("ray") / "ray-start.log"
    command = [
        *(str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={port}", "--num-cpus=2"),
        *("--include-dashboard=false", "--disable-usage-stats", "--block"),
    ]
    with open(log, "wb") as output:
        head = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_for_port(port, head, seconds=120, what="the local Ray cluster")
        except pytest.fail.Exception:
            pytest.fail(f"the local Ray cluster did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(2)  # the raylet registers after the GCS listens
        yield f"127.0.0.1:{port}", env
    finally:
        with contextlib.suppress(ProcessLookupError):  # already gone when it failed to start
            os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, signal.SIGKILL)


@pytest.mark.slow
def test_ray_cluster_tags_like_one_process_and_only_the_driver_writes(ray_cluster, tiny_model_dir, tmp_path):
    from musictag.library.database import Library

    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(6):
        sf.write(folder / f"t{i}.wav", music_like(2.0 + i, 16000, seed=i), 16000)
    (folder / "broken.mp3").write_text("not audio")
    local, on_ray = tmp_path / "local.sqlite", tmp_path / "ray.sqlite"
    args = ("tag", str(folder), "--model", str(tiny_model_dir), "--embed", "penultimate", "-q")
    assert musictag(*args, "--db", str(local)).returncode == 1
    address, env = ray_cluster
    copies = set(Path(tempfile.gettempdir()).glob("musictag-model-*"))  # each worker's copy of the model
    done = musictag(*args, "--db", str(on_ray), "--ray", address, "--workers", "2", timeout=600, env=env)
    assert done.returncode == 1 and "6 tagged" in done.stderr and "broken.mp3: cannot decode" in done.stderr
    assert set(Path(tempfile.gettempdir()).glob("musictag-model-*")) == copies  # removed once loaded
    with Library(local) as a, Library(on_ray) as b:
        model_a, model_b = a.pick_model(), b.pick_model()
        paths_a, _, scores_a = a.score_matrix(model_a)
        paths_b, _, scores_b = b.score_matrix(model_b)
        assert paths_a == paths_b and len(paths_a) == 6
        np.testing.assert_allclose(scores_b, scores_a, atol=1e-5)
        np.testing.assert_allclose(b.embeddings(model_b)[2], a.embeddings(model_a)[2], atol=1e-3)


def test_tag_write_tags_tags_the_files_tagged_now(tiny_model_dir, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(2):
        sf.write(folder / f"t{i}.flac", music_like(3.5, 22050, seed=i), 22050)
    db = tmp_path / "lib.sqlite"
    args = ("tag", str(folder), "--db", str(db), "--model", str(tiny_model_dir), "--top-k", "2", "-q")
    done = musictag(*args, "--write-tags")
    assert done.returncode == 0, done.stderr
    for i in range(2):
        fields = read_tags(folder / f"t{i}.flac")
        assert len(fields["MUSICTAG_TAGS"]) == 2 and fields["MUSICTAG_MODEL"] == ["tiny"]
    assert "0 tagged, 2 unchanged" in musictag(*args).stderr
    refused = musictag("tag", str(folder), "--write-tags", "--model", str(tiny_model_dir))
    assert refused.returncode == 1 and "add --db FILE" in refused.stderr


def test_write_tags_skips_a_file_changed_since_tagging(tiny_model_dir, tmp_path, capsys):
    """Defect 2: write-tags wrote old tags into a re-encoded file and hid the change from tag --db."""
    folder = tmp_path / "music"
    folder.mkdir()
    for name, seed in (("rock.ogg", 0), ("jazz.flac", 1)):
        sf.write(folder / name, music_like(3.5, 22050, seed=seed), 22050)
    db = tmp_path / "lib.sqlite"
    assert run_main(capsys, "tag", folder, "--db", db, "--model", tiny_model_dir, "-q")[0] == 0
    sf.write(folder / "rock.ogg", music_like(5.0, 22050, seed=7), 22050)  # re-encoded: other music
    code, _, err = run_main(capsys, "library", "write-tags", "--db", db, "-q")
    assert code == 1 and "rock.ogg: changed since tagging; run tag --db" in err
    assert "MUSICTAG_TAGS" not in read_tags(folder / "rock.ogg") and "MUSICTAG_TAGS" in read_tags(folder / "jazz.flac")
    code, _, err = run_main(capsys, "tag", folder, "--db", db, "--model", tiny_model_dir, "-q")
    assert code == 0 and "1 tagged, 1 unchanged" in err  # the change is still seen


def test_tag_db_takes_file_names_that_are_not_utf8(tiny_model_dir, tmp_path, capsys):
    """Defect 3: a file name that is not valid UTF-8 crashed tag --db at the same file on every rerun."""
    from musictag.library.database import Library

    folder = tmp_path / "music"
    folder.mkdir()
    odd = os.fsdecode(b"caf\xe9-latin1.wav")  # Latin-1 bytes: invalid UTF-8
    for name, seed in (("a.wav", 0), ("odd.wav", 1), ("z.wav", 2)):
        sf.write(folder / name, music_like(3.5, 16000, seed=seed), 16000)
    os.rename(folder / "odd.wav", folder / odd)  # soundfile cannot open such a name itself
    (folder / os.fsdecode(b"broken-\xff.wav")).write_text("not audio")
    db = tmp_path / "lib.sqlite"
    code, _, err = run_main(capsys, "tag", folder, "--db", db, "--model", tiny_model_dir, "-q")
    assert code == 1 and "3 tagged" in err and "1 failed" in err and "Traceback" not in err
    with Library(db) as library:
        _, paths, _ = library.score_matrix(library.pick_model())
    assert str(folder / odd) in paths and os.path.exists(paths[paths.index(str(folder / odd))])
    assert "0 tagged, 3 unchanged" in run_main(capsys, "tag", folder, "--db", db, "--model", tiny_model_dir, "-q")[2]
    code, out, _ = run_main(capsys, "library", "query", "--db", db, "tag0 >= 0", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 4 and "caf\\udce9-latin1.wav" in out
    query = [sys.executable, "-m", "musictag", "library", "query", "--db", str(db), "tag0 >= 0", "--format", "m3u"]
    playlist = subprocess.run(query, capture_output=True, check=True).stdout
    assert os.fsencode(folder / odd) in playlist.splitlines()  # the file's real bytes: a playlist that plays


def test_a_library_gains_embeddings_and_timelines_when_asked(tiny_model_dir, tmp_path, capsys):
    """Defect 4: tag --db --embed on a library made without --embed said "0 tagged, N unchanged"."""
    from musictag.library.database import Library

    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(3):
        sf.write(folder / f"t{i}.wav", music_like(3.5, 16000, seed=i), 16000)
    db = tmp_path / "lib.sqlite"
    tag = ("tag", folder, "--db", db, "--model", tiny_model_dir, "-q")
    assert "3 tagged" in run_main(capsys, *tag)[2]
    assert "no embeddings stored" in run_main(capsys, "library", "similar", "--db", db, folder / "t0.wav")[2]
    assert "3 tagged, 0 unchanged" in run_main(capsys, *tag, "--embed", "penultimate")[2]
    code, out, _ = run_main(capsys, "library", "similar", "--db", db, folder / "t0.wav", "--format", "paths")
    assert code == 0 and len(out.splitlines()) == 2
    assert "0 tagged, 3 unchanged" in run_main(capsys, *tag, "--embed", "penultimate")[2]
    assert "0 tagged, 3 unchanged" in run_main(capsys, *tag)[2]  # fewer asked for: nothing to do
    assert "3 tagged" in run_main(capsys, *tag, "--timeline")[2]
    with Library(db) as library:
        model = library.pick_model()
        assert len(library.done(model.id, layer="penultimate", timeline=True)) == 3


def test_tag_db_refuses_another_applications_database(tiny_model_dir, tmp_path, capsys):
    """Defect 14: tag --db added its tables to any SQLite file it was given."""
    other = tmp_path / "photos.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE albums (id INTEGER PRIMARY KEY, title TEXT)")
    before = other.read_bytes()
    song = tmp_path / "song.wav"
    sf.write(song, music_like(3.5, 16000), 16000)
    code, _, err = run_main(capsys, "tag", song, "--db", other, "--model", tiny_model_dir, "-q")
    assert code == 1 and "another application" in err and len(err.splitlines()) == 1
    assert other.read_bytes() == before and not Path(f"{other}-wal").exists()


def test_a_killed_writes_copy_is_removed_by_the_next_write(tmp_path):
    """Low: a killed write-tags left a hidden temporary copy in the music folder that later runs never cleaned."""
    path = tmp_path / "song.flac"
    sf.write(path, music_like(1.0, 22050), 22050)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".song.musictag-{int(dead.stdout)}.tmp.flac"
    stale.write_bytes(path.read_bytes())
    alive = tmp_path / f".song.musictag-{os.getpid() + 0}.tmp.flac.other"  # not one of ours: left alone
    alive.write_text("x")
    write_tags(path, {"MUSICTAG_MODEL": ["m"]})
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, "song.flac"]


def test_one_content_under_two_paths_in_a_first_run_is_tagged_once(tiny_model_dir, tmp_path, capsys):
    """Low: identical content seen twice in one first run was tagged twice."""
    from musictag.library.database import Library

    folder = tmp_path / "music"
    folder.mkdir()
    sf.write(folder / "a.wav", music_like(3.5, 16000, seed=1), 16000)
    shutil.copy(folder / "a.wav", folder / "copy-of-a.wav")
    sf.write(folder / "b.wav", music_like(3.5, 16000, seed=2), 16000)
    (folder / "bad.wav").write_bytes(b"RIFF....")
    shutil.copy(folder / "bad.wav", folder / "bad-too.wav")
    db = tmp_path / "lib.sqlite"
    code, _, err = run_main(capsys, "tag", folder, "--db", db, "--model", tiny_model_dir, "-q")
    assert code == 1 and "2 tagged, 0 unchanged, 1 reused (same content elsewhere), 2 failed" in err
    assert "bad-too.wav: cannot decode" in err and "bad.wav: cannot decode" in err and "2 of 5 files failed" in err
    with Library(db) as library:
        _, paths, scores = library.score_matrix(library.pick_model())
        assert [Path(p).name for p in paths] == ["a.wav", "b.wav", "copy-of-a.wav"]
        np.testing.assert_array_equal(scores[0], scores[2])
        assert sorted(Path(p).name for p, _ in library.failures()) == ["bad-too.wav", "bad.wav"]


def test_write_tags_top_k_0_means_all_and_threshold_excludes_top_k(tiny_model_dir, tmp_path, capsys):
    """Low: write-tags --top-k 0 was an error while tag --top-k 0 means all; --top-k with --threshold silently
    ignored one."""
    folder = tmp_path / "music"
    folder.mkdir()
    sf.write(folder / "a.flac", music_like(3.5, 22050), 22050)
    db = tmp_path / "lib.sqlite"
    assert run_main(capsys, "tag", folder, "--db", db, "--model", tiny_model_dir, "-q")[0] == 0
    assert run_main(capsys, "library", "write-tags", "--db", db, "--top-k", "0", "-q")[0] == 0
    assert len(read_tags(folder / "a.flac")["MUSICTAG_TAGS"]) == 5
    with pytest.raises(SystemExit) as stop:
        run_main(capsys, "library", "write-tags", "--db", db, "--top-k", "2", "--threshold", "0.5")
    assert stop.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    code, _, err = run_main(capsys, "tag", folder, "--db", db, "--model", tiny_model_dir, "--format", "json")
    assert code == 1 and "leave out --format" in err  # was silently ignored
    with pytest.raises(SystemExit) as stop:  # was accepted when nothing was new
        run_main(capsys, "tag", folder, "--db", db, "--model", tiny_model_dir, "--embed", "nope")
    assert stop.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
