"""Write musictag's tags into audio files (mutagen), never leaving a file half-written.

The namespace, one name in every format:

=====================  ==========================  ===========================================
field                  ID3 (MP3, WAV, AIFF)        Vorbis comments (FLAC, Ogg, Opus) / MP4
=====================  ==========================  ===========================================
``MUSICTAG_TAGS``      ``TXXX:MUSICTAG_TAGS``      ``MUSICTAG_TAGS`` / ``----:org.musictag:TAGS``
``MUSICTAG_SCORES``    ``TXXX:MUSICTAG_SCORES``    ``MUSICTAG_SCORES`` / ``----:org.musictag:SCORES``
``MUSICTAG_MODEL``     ``TXXX:MUSICTAG_MODEL``     ``MUSICTAG_MODEL`` / ``----:org.musictag:MODEL``
genre (when asked)     ``TCON``                    ``GENRE`` / ``©gen``
=====================  ==========================  ===========================================

``MUSICTAG_TAGS`` holds one value per tag (best first), ``MUSICTAG_SCORES`` one ``tag=score`` per
tag, ``MUSICTAG_MODEL`` the model's name. Files are changed by writing a copy beside them,
reading the copy back, then renaming it over the original, so a crash leaves either the old file
or the new one. ID3 tags are saved in the version the file already has (2.3 stays 2.3, so its
other frames keep their bytes; there, several values share one frame, joined by ``"; "``); a file
without ID3 gets 2.4. ffmpeg (and so ffprobe) ignores a WAV's ID3 chunk when the file also has a
RIFF ``LIST/INFO`` chunk; taggers that read ID3 in WAV (mutagen, Picard, beets, foobar2000) see it.
"""

from __future__ import annotations

import os
import shutil
import stat
from glob import escape as glob_escape
from pathlib import Path

from musictag.errors import MusictagError

FIELDS = ("MUSICTAG_TAGS", "MUSICTAG_SCORES", "MUSICTAG_MODEL")
_MP4_PREFIX = "----:org.musictag:"
_V23_SEPARATOR = "; "  # ID3v2.3 has one value per frame: several are joined with this


class TagWriteError(MusictagError):
    """A file whose tags cannot be written (read-only, no tag support, damaged); the batch goes on."""


def tag_fields(top: list[tuple[str, float]], model: str) -> dict[str, list[str]]:
    """The namespace's fields for tags ``[(tag, score), ...]`` (best first)."""
    return {
        "MUSICTAG_TAGS": [tag for tag, _ in top],
        "MUSICTAG_SCORES": [f"{tag}={score:.3f}" for tag, score in top],
        "MUSICTAG_MODEL": [model],
    }


def write_tags(path: str | os.PathLike, fields: dict[str, list[str]], *, genre: str | None = None) -> None:
    """Replace musictag's fields in ``path`` with ``fields`` (empty: remove them), and set the genre
    field when ``genre`` is given; everything else in the file stays as it was."""
    path = Path(path)
    _check_writable(path)
    _remove_stale_copies(path)
    tmp = path.with_name(f".{path.stem}.musictag-{os.getpid()}.tmp{path.suffix}")  # the suffix tells the format
    try:
        shutil.copy2(path, tmp)
        audio = _open(tmp, path)
        _apply(audio, fields, genre)
        _save(audio)
        if read_tags(tmp) != {k: v for k, v in fields.items() if v}:
            raise TagWriteError(f"{path}: the tags read back differ from those written; file left as it was")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_stale_copies(path: Path) -> None:
    """Delete the copies of ``path`` that a killed write left beside it (their process is gone)."""
    for copy in path.parent.glob(f".{glob_escape(path.stem)}.musictag-*.tmp{glob_escape(path.suffix)}"):
        pid = copy.name[len(f".{path.stem}.musictag-") :].split(".tmp", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            copy.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def read_tags(path: str | os.PathLike) -> dict[str, list[str]]:
    """musictag's fields in ``path`` (empty when it has none)."""
    audio = _open(Path(path), Path(path))
    if audio.tags is None:
        return {}
    kind = _kind(audio)
    found = {}
    for name in FIELDS:
        if kind == "id3":
            frame = audio.tags.get(f"TXXX:{name}")
            values = [part for text in frame.text for part in text.split(_V23_SEPARATOR)] if frame else []
        elif kind == "mp4":
            values = [bytes(v).decode("utf-8") for v in audio.tags.get(_MP4_PREFIX + name[len("MUSICTAG_") :], [])]
        else:
            values = list(audio.tags.get(name, []))
        if values:
            found[name] = values
    return found


def read_genre(path: str | os.PathLike) -> list[str]:
    """The values of the file's genre field (``TCON``, ``GENRE`` or ``©gen``)."""
    audio = _open(Path(path), Path(path))
    if audio.tags is None:
        return []
    kind = _kind(audio)
    if kind == "id3":
        frame = audio.tags.get("TCON")
        return list(frame.text) if frame else []
    return list(audio.tags.get("\xa9gen" if kind == "mp4" else "GENRE", []))


def _check_writable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise TagWriteError(f"{path}: {exc.strerror.lower()}") from None
    # checked on the mode bits, not os.access: root may write anything, but a read-only file is the owner's choice
    if not mode & stat.S_IWUSR or not os.access(path.parent, os.W_OK):
        raise TagWriteError(f"{path}: read-only; tags not written")


def _open(tmp: Path, original: Path):
    import mutagen

    try:
        audio = mutagen.File(tmp)
    except Exception as exc:  # mutagen raises many types for damaged files
        raise TagWriteError(f"{original}: cannot read its tags ({type(exc).__name__}: {exc})") from None
    if audio is None:
        raise TagWriteError(f"{original}: this format ({original.suffix or 'no extension'}) has no tags to write")
    return audio


def _kind(audio) -> str:
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4

    if isinstance(audio, MP4):
        return "mp4"
    if isinstance(audio.tags, ID3) or audio.tags is None and _id3_format(audio):
        return "id3"
    return "vorbis"


def _id3_format(audio) -> bool:
    from mutagen.aiff import AIFF
    from mutagen.mp3 import MP3
    from mutagen.wave import WAVE

    return isinstance(audio, MP3 | WAVE | AIFF)


def _apply(audio, fields: dict[str, list[str]], genre: str | None) -> None:
    from mutagen.id3 import TCON, TXXX
    from mutagen.mp4 import MP4FreeForm

    kind = _kind(audio)
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    for name in FIELDS:
        values = fields.get(name, [])
        if kind == "id3":
            tags.delall(f"TXXX:{name}")
            if values:
                tags.add(TXXX(encoding=3, desc=name, text=values))
        elif kind == "mp4":
            key = _MP4_PREFIX + name[len("MUSICTAG_") :]
            if key in tags:
                del tags[key]
            if values:
                tags[key] = [MP4FreeForm(v.encode("utf-8")) for v in values]
        else:
            if name in tags:
                del tags[name]
            if values:
                tags[name] = values
    if genre is not None:
        if kind == "id3":
            tags.setall("TCON", [TCON(encoding=3, text=[genre])])
        else:
            tags["\xa9gen" if kind == "mp4" else "GENRE"] = [genre]


def _save(audio) -> None:
    if _kind(audio) == "id3":
        version = getattr(audio.tags, "version", (2, 4, 0))
        audio.save(v2_version=3 if version[:2] == (2, 3) else 4, v23_sep=_V23_SEPARATOR)
    else:
        audio.save()
