"""Download public data sets with resume, checksum verification and safe extraction."""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from musictag.errors import MusictagError
from musictag.utils.progress import progress

_CHUNK = 1 << 20


class DownloadError(MusictagError):
    """A transfer failed for good, or a file does not match its published checksum."""


@dataclass(frozen=True)
class Remote:
    """One file of a data set's archive: where it is, its name and its checksum."""

    url: str
    filename: str
    md5: str | None = None  # checksum of this file alone, when published


@dataclass(frozen=True)
class Archive:
    """What to fetch for a data set, how to check it, and what to unpack."""

    files: tuple[Remote, ...]
    archive: str  # file to extract (after joining ``parts`` into it, if any)
    archive_md5: str | None
    result: str  # folder, under dest, that the data set SPEC points at
    parts: tuple[str, ...] = ()  # files concatenated, in order, into ``archive``
    keep: tuple[str, ...] = ()  # downloaded files copied into ``result`` as they are


ARCHIVES = {
    "gtzan": Archive(
        files=(Remote("http://opihi.cs.uvic.ca/sound/genres.tar.gz", "genres.tar.gz"),),
        archive="genres.tar.gz",
        archive_md5="5b3d6dddb579ab49814ab86dba69e7c7",
        result="genres",
    ),
    "mtt": Archive(
        files=tuple(
            Remote(f"https://mirg.city.ac.uk/datasets/magnatagatune/mp3.zip.00{i}", f"mp3.zip.00{i}") for i in (1, 2, 3)
        )
        + (
            Remote(
                "https://mirg.city.ac.uk/datasets/magnatagatune/annotations_final.csv",
                "annotations_final.csv",
                md5="f04fa01752a8cc64f6e1ca142a0fef1d",
            ),
        ),
        archive="mp3.zip",
        archive_md5="f12add0eb4cd6c2a3ab7e4afaf7b7467",
        result="magnatagatune",
        parts=("mp3.zip.001", "mp3.zip.002", "mp3.zip.003"),
        keep=("annotations_final.csv",),
    ),
}


def md5_of(path: Path) -> str:
    """The MD5 hex digest of a file's bytes (what the archives publish; not for security)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, md5: str | None) -> None:
    if md5 is None:
        return
    found = md5_of(path)
    if found != md5:
        path.unlink()
        raise DownloadError(
            f"{path.name}: checksum mismatch (md5 {found}, expected {md5}); "
            "the file was deleted, run the command again to fetch it anew"
        )


def fetch(remote: Remote, folder: Path, *, attempts: int = 5, quiet: bool = True, timeout: float = 60) -> Path:
    """Download ``remote`` into ``folder``, resuming a partial ``.part`` file, then verify it."""
    import http.client  # the network stack only where something is fetched (start-up time)
    import urllib.error
    import urllib.request

    target = folder / remote.filename
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    for attempt in range(1, attempts + 1):
        have = partial.stat().st_size if partial.exists() else 0
        request = urllib.request.Request(remote.url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                resumed = response.status == 206
                total = response.length + (have if resumed else 0) if response.length is not None else None
                with (
                    open(partial, "ab" if resumed else "wb") as out,
                    progress(total, quiet=quiet, unit="B", desc=remote.filename) as bar,
                ):
                    bar.update(have if resumed else 0)
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        bar.update(len(chunk))
                if total is not None and partial.stat().st_size < total:
                    raise http.client.IncompleteRead(b"", total - partial.stat().st_size)
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # range not satisfiable: the partial file is already whole
                break
            raise DownloadError(f"{remote.url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if attempt == attempts:
                raise DownloadError(f"{remote.url}: transfer failed after {attempts} attempts ({exc})") from None
            time.sleep(min(2.0**attempt, 30) * 0.1)
    partial.replace(target)
    _verify(target, remote.md5)
    return target


def _safe_extract(archive: Path, dest: Path) -> None:
    """Unpack a tar or zip archive without letting members escape ``dest``."""
    import tarfile
    import zipfile

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                if not (dest / member).resolve().is_relative_to(dest.resolve()):
                    raise DownloadError(f"{archive.name}: member {member!r} would land outside {dest}")
            bundle.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            bundle.extractall(dest, filter="data")
    else:
        raise DownloadError(f"{archive.name}: not a zip or tar archive")


def download_dataset(
    name: str, dest: str | Path, *, archives: dict[str, Archive] | None = None, quiet: bool = True
) -> Path:
    """Fetch, verify and unpack data set ``name`` under ``dest``; return the folder to use.

    Completed downloads and extractions are skipped on a second run; an interrupted
    transfer resumes; a checksum mismatch stops before anything is extracted.
    """
    spec = (archives or ARCHIVES)[name]
    dest = Path(dest)
    result = dest / spec.result
    if (result / ".musictag-complete").exists():
        return result
    for remote in spec.files:
        fetch(remote, dest / "downloads", quiet=quiet)
    archive = dest / "downloads" / spec.archive
    if spec.parts and not archive.exists():
        joined = archive.with_name(archive.name + ".joining")
        with open(joined, "wb") as out:
            for part in spec.parts:
                with open(dest / "downloads" / part, "rb") as handle:
                    shutil.copyfileobj(handle, out, _CHUNK)
        joined.replace(archive)
    _verify(archive, spec.archive_md5)
    staging = dest / f".{spec.result}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _safe_extract(archive, staging)
    inner = staging / spec.result if (staging / spec.result).is_dir() else staging
    for keep in spec.keep:
        shutil.copy2(dest / "downloads" / keep, inner / keep)
    (inner / ".musictag-complete").write_text("ok\n")
    shutil.rmtree(result, ignore_errors=True)
    inner.replace(result)
    shutil.rmtree(staging, ignore_errors=True)
    return result
