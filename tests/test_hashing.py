"""A library knows a file by its audio: writing tags keeps the hash, changing the audio does not."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from musictag.library.filetags import write_tags
from musictag.utils.hashing import audio_hash, content_hash

from conftest import music_like, run_main

FORMATS = {"flac": "FLAC", "wav": "WAV", "aiff": "AIFF", "mp3": "MP3"}


def _write(path, audio: np.ndarray, rate: int = 22050) -> None:
    if path.suffix == ".m4a":
        wav = path.with_suffix(".wav")
        sf.write(wav, audio, rate)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", str(path)], check=True)
        wav.unlink()
    else:
        sf.write(path, audio, rate, format=FORMATS[path.suffix[1:]])


@pytest.mark.parametrize("suffix", [".flac", ".wav", ".aiff", ".mp3", ".m4a"])
def test_tags_written_keep_the_audio_hash_and_new_audio_changes_it(tmp_path, suffix):
    if suffix == ".m4a" and not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is needed to write an MP4 file")
    import mutagen

    path = tmp_path / f"song{suffix}"
    _write(path, music_like(3.0, 22050))
    before_audio, before_bytes = audio_hash(path), content_hash(path)
    write_tags(path, {"MUSICTAG_TAGS": ["rock", "guitar"], "MUSICTAG_MODEL": ["m"]}, genre="Rock")
    tagged = mutagen.File(path)
    if tagged.tags is None:
        tagged.add_tags()
    tagged.save()  # a second tagger's save: other padding, other layout
    assert content_hash(path) != before_bytes
    assert audio_hash(path) == before_audio
    _write(path, music_like(3.0, 22050, seed=1))
    assert audio_hash(path) != before_audio


def test_a_retag_of_a_file_whose_tags_changed_does_no_work(tmp_path, tiny_model_dir, capsys):
    import mutagen

    path = tmp_path / "lib" / "song.flac"
    path.parent.mkdir()
    sf.write(path, music_like(4.0, 16000), 16000)
    db = tmp_path / "lib.db"
    assert run_main(capsys, "tag", path.parent, "--db", db, "--model", tiny_model_dir, "-q")[0] == 0
    edited = mutagen.File(path)
    edited["title"] = "a new title"
    edited.save()
    code, _, err = run_main(capsys, "tag", path.parent, "--db", db, "--model", tiny_model_dir, "-q")
    assert code == 0 and "0 tagged, 1 unchanged" in err
