"""Decode audio files into blocks of float32 samples, with soundfile or ffmpeg.

soundfile (libsndfile) handles wav, flac, ogg/vorbis, opus-in-ogg, aiff and mp3 directly and
quickly; everything else (m4a/aac, wma, video containers...) goes through an ffmpeg process whose
output is read as a stream, so memory stays bounded whatever the file's length.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

try:
    import miniaudio
except ImportError:  # optional: FLAC then decodes through libsndfile, only slower
    miniaudio = None

from musictag.errors import AudioError

#: Extensions that the folder walker treats as audio (or video with an audio track); files named
#: directly are decoded whatever their extension.
AUDIO_EXTENSIONS = frozenset(
    (
        ".wav .wave .flac .ogg .oga .opus .mp3 .mp2 .aif .aiff .aifc .au .snd .caf .w64 "
        ".m4a .m4b .aac .ac3 .amr .wma .wv .ape .tta .mka .mkv .webm .mp4 .mov .avi"
    ).split()
)


@dataclass(frozen=True)
class StreamInfo:
    """What a decoder learnt about a file before reading samples."""

    sample_rate: int
    channels: int
    frames: int | None  # None when the container does not say (ffmpeg streams)
    exact: bool = True  # False when ``frames`` is an estimate (MP3: from a Xing header or the bit rate)


def check_readable(path: str | os.PathLike) -> Path:
    """Raise AudioError for a missing, unreadable or empty file; return it as a Path."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({exc.strerror})") from None
    if not path.is_file():
        raise AudioError(f"{path}: not a regular file (a pipe, socket or device); give an audio file")
    if size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied")
    return path


@lru_cache(maxsize=1)
def ffmpeg_executable() -> str | None:
    """The ffmpeg binary to use: the imageio-ffmpeg wheel's, else one on PATH."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # the wheel is optional; a system ffmpeg is fine too
        return shutil.which("ffmpeg")


class _Decoder:
    """Common shape of the two decoders: info first, then blocks of (frames, channels)."""

    info: StreamInfo

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        pass


def _wav_declared_frames(path: Path) -> int | None:
    """The frames a RIFF/WAVE header says its data chunk holds (libsndfile quietly counts only what is
    there), or None when the header does not say (streamed WAVs write 0 or 0xFFFFFFFF)."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, block_align = 12, 0
    while offset + 8 <= len(head):
        chunk, size = struct.unpack_from("<4sI", head, offset)
        if chunk == b"fmt " and offset + 22 <= len(head):
            block_align = struct.unpack_from("<H", head, offset + 20)[0]
        if chunk == b"data":
            return size // block_align if block_align and 0 < size < 0xFFFFFFFF else None
        offset += 8 + size + (size & 1)
    return None


@contextlib.contextmanager
def _decoder_messages_named(path: Path) -> Iterator[None]:
    """Lines a C decoder prints on stderr (libmpg123's "Xing stream size off...") come out prefixed
    with the file's name, instead of anonymously in the middle of a batch."""
    import sys
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. captured): nothing to rename
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    sys.stderr.write(f"musictag: warning: {path}: decoder says: {line.strip()}\n")


class _SoundfileDecoder(_Decoder):
    def __init__(self, path: Path):
        with _decoder_messages_named(path):
            self._file = sf.SoundFile(os.fsencode(path))  # bytes: file names need not be valid UTF-8
        frames = self._file.frames if self._file.seekable() else None
        if self._file.format == "WAV":
            frames = _wav_declared_frames(path) or frames
        exact = self._file.format not in ("MPEG", "MP3")
        self.info = StreamInfo(self._file.samplerate, self._file.channels, frames, exact)

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        while True:
            block = self._file.read(block_frames, dtype="float32", always_2d=True)
            if not len(block):
                return
            yield block

    def close(self) -> None:
        self._file.close()


class _MiniaudioFlacDecoder(_Decoder):
    """FLAC through miniaudio's dr_flac: bit-identical to libsndfile and 1.7x faster.

    It decodes the whole file in one call, so :func:`open_decoder` uses it only for files
    up to :data:`MINIAUDIO_MAX_SECONDS`; longer ones stream through libsndfile.
    """

    def __init__(self, path: Path):
        self._path = path
        info = miniaudio.get_file_info(str(path))
        self.info = StreamInfo(info.sample_rate, info.nchannels, info.num_frames)
        self._sixteen_bit = info.sample_format == miniaudio.SampleFormat.SIGNED16

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        try:
            if self._sixteen_bit:  # decoding to int16 is faster, and x / 32768 is exactly dr_flac's float
                pcm = np.frombuffer(miniaudio.flac_read_file_s16(str(self._path)).samples, dtype=np.int16)
                samples = np.multiply(pcm, np.float32(1 / 32768), dtype=np.float32)
            else:
                samples = np.frombuffer(miniaudio.flac_read_file_f32(str(self._path)).samples, dtype=np.float32)
        except miniaudio.DecodeError as exc:
            raise AudioError(f"{self._path}: corrupt audio data ({exc})") from None
        samples = samples.reshape(-1, self.info.channels)
        if len(samples) < self.info.frames:  # dr_flac stops quietly where a file is cut short
            raise AudioError(f"{self._path}: corrupt audio data (decoded {len(samples)} of {self.info.frames} frames)")
        for start in range(0, len(samples), block_frames):
            yield samples[start : start + block_frames]


class _FfmpegDecoder(_Decoder):
    """Runs ffmpeg to write 32-bit float WAV on stdout and parses that stream."""

    def __init__(self, path: Path, exe: str):
        cmd = [
            exe,
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-vn",
            "-map",
            "0:a:0",
            "-f",
            "wav",
            "-acodec",
            "pcm_f32le",
            "-",
        ]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._path = path
        try:
            self.info = self._read_header()
        except AudioError:
            self.close()
            raise

    def _fail(self, default: str) -> AudioError:
        self._proc.kill()
        err = self._proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
        message = err[-1] if err else default
        if any(
            hint in message
            for hint in (
                "does not contain any stream",
                "matches no streams",
                "Error opening output files",
                "Output file is empty",
            )
        ):
            message = "no audio stream"
        return AudioError(f"{self._path}: cannot decode ({message})")

    def _read_exact(self, n: int) -> bytes:
        data = self._proc.stdout.read(n)
        if len(data) != n:
            raise self._fail("not an audio file")
        return data

    def _read_header(self) -> StreamInfo:
        riff = self._read_exact(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            raise self._fail("unexpected output from ffmpeg")
        rate = channels = 0
        while True:
            chunk_id, size = struct.unpack("<4sI", self._read_exact(8))
            if chunk_id == b"data":
                break
            body = self._read_exact(size + (size & 1))
            if chunk_id == b"fmt ":
                _, channels, rate = struct.unpack_from("<HHI", body)
        if not rate or not channels:
            raise self._fail("no audio format in ffmpeg output")
        return StreamInfo(rate, channels, None)

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        frame_bytes = 4 * self.info.channels
        pending = b""
        while True:
            data = self._proc.stdout.read(block_frames * frame_bytes)
            if not data:
                break
            data = pending + data
            usable = len(data) - len(data) % frame_bytes
            pending = data[usable:]
            yield np.frombuffer(data[:usable], dtype="<f4").reshape(-1, self.info.channels)
        if self._proc.wait() != 0:
            raise self._fail("decoding failed")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc.stdout.close()
        self._proc.stderr.close()


#: Longest FLAC file decoded in one piece by miniaudio (longer ones stream through libsndfile).
MINIAUDIO_MAX_SECONDS = 600

_SOUNDFILE_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"BW64", b"fLaC", b"OggS", b"FORM", b".snd", b"ID3", b"riff", b"caff")


def _looks_like_soundfile_format(path: Path) -> bool:
    """Sniff the first bytes: libsndfile's mp3 decoder prints noise on stderr for non-mp3
    data, so only files that start like a format it reads are handed to it."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    is_mpeg_frame = len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
    return is_mpeg_frame or head.startswith(_SOUNDFILE_MAGIC)


def _utf8(path: Path) -> bool:
    """Whether the name is valid UTF-8 (miniaudio takes only such names; soundfile and ffmpeg take bytes)."""
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def open_decoder(path: str | os.PathLike) -> _Decoder:
    """Open ``path`` with soundfile, falling back to ffmpeg for other formats."""
    path = check_readable(path)
    if path.suffix.lower() == ".flac" and miniaudio is not None and _utf8(path):
        try:
            decoder = _MiniaudioFlacDecoder(path)
            if decoder.info.frames <= MINIAUDIO_MAX_SECONDS * decoder.info.sample_rate:
                return decoder
        except miniaudio.DecodeError:
            pass  # let libsndfile (then ffmpeg) have a go and report the problem
    if _looks_like_soundfile_format(path):
        try:
            return _SoundfileDecoder(path)
        except (sf.LibsndfileError, RuntimeError, TypeError):
            pass
    exe = ffmpeg_executable()
    if exe is None:
        raise AudioError(
            f"{path}: format not supported by libsndfile and no ffmpeg was found "
            "(pip install 'musictag[ffmpeg]', or put ffmpeg on PATH)"
        )
    return _FfmpegDecoder(path, exe)
