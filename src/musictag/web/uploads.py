"""Uploads of ``musictag serve``: saved to a private temporary folder (size-limited), checked by decoding
(the content decides, not the name), deleted after the request."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from fastapi import HTTPException, UploadFile

from musictag.errors import MusictagError
from musictag.utils.progress import counted

CHUNK = 1 << 20


class Upload:
    """An upload saved to a private temporary folder (size-limited), checked by decoding, deleted after."""

    def __init__(self, file: UploadFile, *, max_mb: float, max_minutes: float):
        self.file, self.max_mb, self.max_minutes = file, max_mb, max_minutes
        self.folder: str | None = None

    def __enter__(self) -> str:
        limit = int(self.max_mb * 1024 * 1024)
        self.folder = tempfile.mkdtemp(prefix="musictag-upload-")  # 0700: private to this user
        suffix = Path(self.file.filename or "").suffix.lower()
        path = os.path.join(self.folder, "upload" + (suffix if suffix.isascii() and len(suffix) <= 6 else ""))
        written = 0
        with open(path, "wb") as out:
            while block := self.file.file.read(CHUNK):
                written += len(block)
                if written > limit:
                    self._clean()
                    raise HTTPException(413, f"upload larger than {self.max_mb:g} MB")
                out.write(block)
        if not written:
            self._clean()
            raise HTTPException(400, "empty upload")
        self._check_audio(path)
        return path

    def _check_audio(self, path: str) -> None:
        """Decode it all (the content decides, not the name); refuse what is not audio or too long."""
        from musictag.audio.stream import AudioStream

        rate, seconds = 8000, 0.0
        limit = self.max_minutes * 60
        try:
            for block in AudioStream(path, rate, block_seconds=30.0):
                seconds += len(block) / rate
                if seconds > limit:
                    break
        except MusictagError as exc:
            self._clean()
            name = self.file.filename or "upload"
            raise HTTPException(415, f"{name}: not audio musictag can decode ({_reason(exc, path)})") from None
        except Exception as exc:  # a decoder library's own error on a damaged file
            self._clean()
            raise HTTPException(415, f"{self.file.filename}: not decodable audio ({type(exc).__name__})") from None
        if seconds > limit:
            self._clean()
            longest = counted(self.max_minutes, "minute")
            raise HTTPException(413, f"{self.file.filename}: longer than {longest}")
        if seconds == 0:
            self._clean()
            raise HTTPException(415, f"{self.file.filename}: no audio in it")

    def __exit__(self, *exc) -> None:
        self._clean()

    def _clean(self) -> None:
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _reason(exc: Exception, path: str) -> str:
    """The decoder's reason without the temporary path."""
    text = str(exc).splitlines()[0]
    return text.replace(f"{path}: ", "").replace(path, "upload")
