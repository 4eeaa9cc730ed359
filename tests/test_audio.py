"""Decoding any format in bounded blocks, mono down-mix, resampling and finding audio files; broken files."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from musictag.audio.decode import ffmpeg_executable
from musictag.audio.discover import find_audio
from musictag.audio.stream import AudioStream, load
from musictag.errors import AudioError

from conftest import music_like, run_main, tone


def dominant_frequency(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)])


@pytest.mark.parametrize("ext, kwargs", [("wav", {}), ("flac", {}), ("ogg", {}), ("mp3", {}), ("aiff", {})])
def test_soundfile_formats(write_audio, ext, kwargs):
    path = write_audio(f"tone.{ext}", tone(2.0, 44100, 440, channels=2), 44100, **kwargs)
    y = load(path, sample_rate=16000)
    assert y.dtype == np.float32
    assert abs(len(y) - 32000) <= 1200  # lossy codecs add or trim a few milliseconds
    assert dominant_frequency(y, 16000) == pytest.approx(440, abs=3)


FFMPEG_FORMATS = {
    "m4a": ["-c:a", "aac"],
    "opus": ["-c:a", "libopus"],
    "wma": ["-c:a", "wmav2"],
    "mkv": ["-c:a", "libvorbis"],
    "mp4": ["-f", "lavfi", "-i", "color=c=black:s=32x32:d=2", "-shortest", "-c:v", "mpeg4", "-c:a", "aac"],
}


@pytest.mark.parametrize("ext", sorted(FFMPEG_FORMATS))
def test_ffmpeg_formats_including_video(write_audio, tmp_path, ext):
    exe = ffmpeg_executable()
    if exe is None:
        pytest.skip("no ffmpeg available")
    source = write_audio("source.wav", tone(2.0, 44100, 660, channels=2), 44100)
    target = tmp_path / f"clip.{ext}"
    subprocess.run([exe, "-y", "-v", "error", "-i", str(source), *FFMPEG_FORMATS[ext], str(target)], check=True)
    y = load(target, sample_rate=16000)
    assert abs(len(y) - 32000) <= 1600
    assert dominant_frequency(y, 16000) == pytest.approx(660, abs=3)


def test_stereo_downmix_and_resampling_match_librosa_conventions(write_audio):
    stereo = np.stack([music_like(3.0, 44100, seed=1), music_like(3.0, 44100, seed=2)], axis=1)
    path = write_audio("stereo.wav", stereo, 44100, subtype="FLOAT")
    expected = soxr.resample(stereo.mean(axis=1), 44100, 16000, quality="HQ")
    y = load(path, sample_rate=16000)
    assert len(y) == int(np.ceil(len(stereo) * 16000 / 44100))
    np.testing.assert_allclose(y[: len(expected)], expected[: len(y)], atol=1e-6)


def test_blockwise_decoding_equals_whole_file(write_audio):
    path = write_audio("long.flac", music_like(9.0, 22050), 22050)
    whole = load(path, sample_rate=16000)
    blocks = list(AudioStream(path, 16000, block_seconds=0.37))
    assert len(blocks) > 10
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-6)


def test_upsampling_8k_and_duration(write_audio):
    path = write_audio("phone.wav", tone(1.5, 8000, 300), 8000)
    stream = AudioStream(path, 16000)
    y = np.concatenate(list(stream))
    assert len(y) == 24000
    assert stream.duration == pytest.approx(1.5)
    assert dominant_frequency(y, 16000) == pytest.approx(300, abs=3)


@pytest.mark.slow
def test_librosa_load_parity(write_audio):
    librosa = pytest.importorskip("librosa")
    path = write_audio("x.wav", music_like(2.0, 22050), 22050)
    np.testing.assert_allclose(load(path, sample_rate=16000), librosa.load(path, sr=16000)[0], atol=1e-6)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.wav", b"", "file is empty"),
        ("text.mp3", b"this is not audio at all, just text\n" * 20, "cannot decode"),
        ("random.ogg", bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), "cannot decode"),
    ],
)
def test_bad_files_raise_one_line_audio_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioError, match=message) as info:
        load(path, sample_rate=16000)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_file_is_reported_as_corrupt(write_audio):
    path = write_audio("full.flac", music_like(5.0, 22050), 22050)
    truncated = path.with_name("truncated.flac")
    truncated.write_bytes(path.read_bytes()[:6000])
    with pytest.raises(AudioError, match="truncated.flac"):
        load(truncated, sample_rate=16000)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load(tmp_path / "nope.wav", sample_rate=16000)
    with pytest.raises(AudioError, match="is a directory"):
        load(tmp_path, sample_rate=16000)


def test_find_audio_walks_folders(tmp_path):
    for name in ("a.wav", "b.MP3", "notes.txt", "sub/c.flac", "sub/deeper/d.ogg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    flat = find_audio([tmp_path])
    assert [p.split("/")[-1] for p in flat] == ["a.wav", "b.MP3"]
    deep = find_audio([tmp_path], recursive=True)
    assert sorted(p.split("/")[-1] for p in deep) == ["a.wav", "b.MP3", "c.flac", "d.ogg"]
    assert find_audio([tmp_path / "notes.txt", tmp_path / "missing.wav"]) == [
        str(tmp_path / "notes.txt"),
        str(tmp_path / "missing.wav"),
    ]


def test_soundfile_reads_what_we_wrote(write_audio):
    # guards the fixtures themselves: a silent or wrong fixture would make the tests above vacuous
    path = write_audio("check.wav", tone(0.5, 16000, 1000), 16000)
    data, sr = sf.read(path)
    assert sr == 16000 and np.abs(data).max() == pytest.approx(0.3, abs=1e-3)


@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("PCM_16", 2), ("PCM_24", 1), ("PCM_24", 2)])
def test_flac_decoding_equals_libsndfile_sample_for_sample(write_audio, subtype, channels):
    from musictag.audio.decode import open_decoder

    samples = np.stack([music_like(3.0, 22050, seed=c) for c in range(channels)], axis=1) * 0.5
    path = write_audio(f"music-{subtype}-{channels}.flac", samples, 22050, subtype=subtype)
    decoded = np.concatenate(list(open_decoder(path).blocks(1 << 16)))
    reference = sf.read(path, dtype="float32", always_2d=True)[0]
    assert decoded.dtype == np.float32 and np.array_equal(decoded, reference)


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
    code, _, err = run_main(capsys, "tag", *cut, wav, "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 1 and f"{len(cut)} of {len(cut) + 1} files failed" in err
    assert all(f"{path}: truncated or corrupt" in err for path in cut)


def test_folders_name_themselves_follow_links_and_skip_hidden_files(capsys, tmp_path, write_audio, tiny_model_dir):
    write_audio("lib/albums/one/a.wav", music_like(1.0, 16000), 16000)
    write_audio("lib/albums/one/._a.wav", music_like(1.0, 16000), 16000)  # a macOS resource fork
    write_audio("elsewhere/b.flac", music_like(1.0, 16000), 16000)
    (tmp_path / "elsewhere" / "c.wv").write_bytes(b"wvpk")
    (tmp_path / "lib" / "albums" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "lib" / "albums" / "loop").symlink_to(tmp_path / "lib")
    code, _, err = run_main(capsys, "tag", tmp_path / "lib", "--model", tiny_model_dir)
    assert code == 1 and str(tmp_path / "lib") in err and "-r" in err
    from musictag.audio.discover import find_audio

    names = sorted(Path(p).name for p in find_audio([tmp_path / "lib"], recursive=True))
    assert names == ["a.wav", "b.flac", "c.wv"]


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
    code, out, _ = run_main(capsys, "tag", video, "--model", tiny_model_dir, "--format", "jsonl")
    assert code == 1 and json.loads(out)["error"].endswith("cannot decode (no audio stream)")
