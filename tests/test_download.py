"""Downloads against an HTTP server on 127.0.0.1 serving fixture archives."""

import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from musictag.data.download import Archive, DownloadError, Remote, download_dataset, fetch


class _Server:
    """Serves ``files`` with Range support; ``cut_once`` names files whose first response stops halfway."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.cut_once, self.requests = files, set(), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                outer.requests.append((name, self.headers.get("Range")))
                if name not in outer.files:
                    self.send_error(404)
                    return
                body, start = outer.files[name], 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if name in outer.cut_once:  # an interrupted transfer: half the bytes, then hang up
                    outer.cut_once.discard(name)
                    payload = payload[: len(payload) // 2]
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
def server():
    srv = _Server({})
    yield srv
    srv.close()


def test_gtzan_like_archive_with_resume_after_an_interrupted_transfer(server, tmp_path):
    archive = _tar_gz({f"genres/blues/blues.0000{i}.au": bytes([i]) * 5000 for i in range(3)})
    server.files["genres.tar.gz"] = archive
    server.cut_once.add("genres.tar.gz")
    spec = {
        "gtzan": Archive(
            files=(Remote(f"{server.url}/genres.tar.gz", "genres.tar.gz"),),
            archive="genres.tar.gz",
            archive_md5=_md5(archive),
            result="genres",
        )
    }
    result = download_dataset("gtzan", tmp_path, archives=spec)
    assert result == tmp_path / "genres"
    assert (result / "blues" / "blues.00002.au").read_bytes() == bytes([2]) * 5000
    ranges = [r for name, r in server.requests if name == "genres.tar.gz"]
    assert ranges[0] is None and ranges[1] == f"bytes={len(archive) // 2}-"  # second request resumed
    requests_before = len(server.requests)
    assert download_dataset("gtzan", tmp_path, archives=spec) == result  # complete: nothing fetched again
    assert len(server.requests) == requests_before


def test_checksum_mismatch_extracts_nothing(server, tmp_path):
    archive = _tar_gz({"genres/pop/pop.00000.au": b"x" * 100})
    server.files["genres.tar.gz"] = archive[:-10] + b"corrupted!"
    spec = {
        "gtzan": Archive(
            files=(Remote(f"{server.url}/genres.tar.gz", "genres.tar.gz"),),
            archive="genres.tar.gz",
            archive_md5=_md5(archive),
            result="genres",
        )
    }
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_dataset("gtzan", tmp_path, archives=spec)
    assert not (tmp_path / "genres").exists()
    assert not (tmp_path / "downloads" / "genres.tar.gz").exists()  # a rerun fetches it anew


def test_multi_part_zip_with_annotations(server, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("0/a-b-01-0-29.mp3", b"mp3 bytes")
        bundle.writestr("f/c-d-02-0-29.mp3", b"more mp3 bytes")
    whole = buffer.getvalue()
    third = len(whole) // 3
    parts = [whole[:third], whole[third : 2 * third], whole[2 * third :]]
    annotations = b'"clip_id"\t"guitar"\t"mp3_path"\n"2"\t"1"\t"0/a-b-01-0-29.mp3"\n'
    for i, part in enumerate(parts, start=1):
        server.files[f"mp3.zip.00{i}"] = part
    server.files["annotations_final.csv"] = annotations
    remotes = tuple(Remote(f"{server.url}/mp3.zip.00{i}", f"mp3.zip.00{i}") for i in (1, 2, 3))
    remotes += (Remote(f"{server.url}/annotations_final.csv", "annotations_final.csv", md5=_md5(annotations)),)
    spec = {
        "mtt": Archive(
            files=remotes,
            archive="mp3.zip",
            archive_md5=_md5(whole),
            result="magnatagatune",
            parts=("mp3.zip.001", "mp3.zip.002", "mp3.zip.003"),
            keep=("annotations_final.csv",),
        )
    }
    result = download_dataset("mtt", tmp_path, archives=spec)
    assert (result / "f" / "c-d-02-0-29.mp3").read_bytes() == b"more mp3 bytes"
    assert (result / "annotations_final.csv").read_bytes() == annotations


def test_missing_file_is_a_clear_error(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(Remote(f"{server.url}/nope.zip", "nope.zip"), tmp_path)
