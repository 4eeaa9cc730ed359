"""musictag serve: every API endpoint, every bad input, the token, and a real browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import music_like, wait_for_port

pytest.importorskip("fastapi", reason="the web server's packages are not installed (pip install 'musictag[serve]')")
from fastapi.testclient import TestClient  # noqa: E402

from musictag.utils.net import is_loopback  # noqa: E402
from musictag.web.app import ServeSettings, create_app  # noqa: E402
from musictag.web.jobs import JobGate, QueueFull  # noqa: E402


@pytest.fixture(scope="module")
def library(tiny_model_dir, tmp_path_factory) -> tuple[Path, Path]:
    """A library of 30 short clips tagged with embeddings, one a symlink to a file outside it."""
    root = tmp_path_factory.mktemp("served")
    music = root / "music"
    music.mkdir()
    for i in range(30):
        sf.write(music / f"track{i:02d}.wav", music_like(3.2, 16000, seed=i), 16000)
    outside = root / "outside.wav"
    sf.write(outside, music_like(3.2, 16000, seed=99), 16000)
    (music / "escape.wav").symlink_to(outside)
    db = root / "library.sqlite"
    command = [
        sys.executable,
        "-m",
        "musictag",
        "tag",
        str(music),
        "--db",
        str(db),
        "--model",
        str(tiny_model_dir),
        "--embed",
        "penultimate",
        "-q",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return music, db


@pytest.fixture
def client(library, tiny_model_dir):
    settings = ServeSettings(model=str(tiny_model_dir), db=str(library[1]), max_upload_mb=1.0, max_minutes=0.5)
    return TestClient(create_app(settings))


def clip_bytes(tmp_path: Path, seconds: float = 4.0, name: str = "clip.flac") -> bytes:
    path = tmp_path / name
    sf.write(path, music_like(seconds, 22050, seed=5), 22050)
    return path.read_bytes()


def test_tag_and_embed_an_upload(client, tmp_path):
    data = clip_bytes(tmp_path)
    tagged = client.post("/api/tag?top_k=3", files={"file": ("my song.flac", data, "audio/flac")})
    assert tagged.status_code == 200, tagged.text
    body = tagged.json()
    assert body["path"] == "my song.flac" and len(body["tags"]) == 3 and body["labels"] == [f"tag{i}" for i in range(5)]
    assert np.array(body["taggram"]).shape == (1, 5) and body["duration"] == pytest.approx(4.0, abs=0.01)
    assert "key" not in body
    described = client.post("/api/tag?describe=key,bpm", files={"file": ("x.flac", data)}).json()
    assert set(described["key"]) == {"value", "confidence"} and described["bpm"]["value"] is None  # 4 s: unknown
    bad = client.post("/api/tag?describe=mood", files={"file": ("x.flac", data)})
    assert bad.status_code == 422 and "describe" in bad.json()["detail"]
    explained = client.post("/api/explain?target=tag2", files={"file": ("x.flac", data)})
    assert explained.status_code == 200 and explained.json()["target"] == "tag2"
    assert explained.json()["explains"].startswith("the file's score")  # the default quantity, said
    assert explained.json()["segments"][-1]["end"] == pytest.approx(2.992, abs=0.02)  # one 187-frame patch
    unknown = client.post("/api/explain?target=nope", files={"file": ("x.flac", data)})
    assert unknown.status_code == 422 and "unknown target" in unknown.json()["detail"]
    embedded = client.post("/api/embed", files={"file": ("x.flac", data)})
    assert embedded.status_code == 200 and len(embedded.json()["embedding"]) == 16
    assert client.get("/api/models").json()["library"][0]["name"] == "tiny"
    assert client.get("/docs").status_code == 200 and "/api/tag" in client.get("/openapi.json").json()["paths"]


def test_library_endpoints(client, library):
    music, _ = library
    first = client.get("/api/tracks?limit=10").json()
    assert first["total"] == 31 and len(first["tracks"]) == 10
    second = client.get("/api/tracks?limit=10&offset=10").json()
    assert {t["id"] for t in first["tracks"]}.isdisjoint(t["id"] for t in second["tracks"])
    searched = client.get("/api/tracks?search=track0").json()
    assert searched["total"] == 10 and all("track0" in t["name"] for t in searched["tracks"])
    scores = {t["id"]: t for t in client.get("/api/tracks?limit=500").json()["tracks"]}
    one = client.get(f"/api/tracks/{next(iter(scores))}").json()
    threshold = sorted(t["score"] for t in one["tags"])[2]
    filtered = client.get("/api/tracks", params={"query": f"{one['tags'][0]['tag']} >= 0", "limit": 500}).json()
    assert filtered["total"] == 31 and threshold >= 0
    bad = client.get("/api/tracks", params={"query": "guitr > 0.5"})
    assert bad.status_code == 400 and "unknown tag" in bad.json()["detail"]
    similar = client.get(f"/api/tracks/{first['tracks'][0]['id']}/similar?n=3").json()
    assert len(similar["similar"]) == 3 and similar["similar"][0]["similarity"] >= similar["similar"][1]["similarity"]
    track = first["tracks"][1]
    audio = client.get(f"/api/tracks/{track['id']}/audio")
    assert audio.status_code == 200 and audio.content == Path(track["path"]).read_bytes()


@pytest.mark.parametrize(
    "name, make, status, message",
    [
        ("big.flac", lambda p: clip_bytes(p, seconds=40), 413, "larger than 1 MB"),
        ("long.wav", lambda p: _long_wav(p), 413, "longer than 0.5 minutes"),
        ("notes.mp3", lambda p: b"this is not audio at all, just text" * 20, 415, "not audio"),
        ("cut.flac", lambda p: clip_bytes(p)[:3000], 415, "not"),
        ("empty.wav", lambda p: b"", 400, "empty upload"),
    ],
)
def test_bad_uploads_are_4xx_with_one_line(client, tmp_path, name, make, status, message):
    response = client.post("/api/tag", files={"file": (name, make(tmp_path))})
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert message in detail and "\n" not in detail and "Traceback" not in detail
    assert str(tmp_path) not in detail and "musictag-upload" not in detail  # no server paths


def _long_wav(tmp_path: Path) -> bytes:
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(8000 * 40, np.int16), 8000, subtype="PCM_16")  # 40 s, 640 kB: under the size limit
    return path.read_bytes()


def test_uploads_are_deleted(client, tmp_path):
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("musictag-upload-*"))
    client.post("/api/tag", files={"file": ("a.flac", clip_bytes(tmp_path))})
    client.post("/api/tag", files={"file": ("b.mp3", b"junk" * 100)})
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("musictag-upload-*")) == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/tracks/..%2F..%2Fetc%2Fpasswd/audio",
        "/api/tracks/%2e%2e%2f%2e%2e%2fetc%2fpasswd/audio",
        "/api/tracks/../../etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/tracks/-1/audio",
        "/api/tracks/999999/audio",
        "/api/tracks/1e3/audio",
    ],
)
def test_traversal_attempts_get_nothing(client, url):
    response = client.get(url)
    assert response.status_code in (404, 422) and "root:" not in response.text


def test_a_symlink_out_of_the_library_is_not_served(client):
    tracks = client.get("/api/tracks?search=escape").json()["tracks"]
    assert len(tracks) == 1
    response = client.get(f"/api/tracks/{tracks[0]['id']}/audio")
    assert response.status_code == 404 and "inside the library" in response.json()["detail"]


def test_token_is_checked_on_every_request(library, tiny_model_dir, tmp_path):
    app = create_app(ServeSettings(model=str(tiny_model_dir), db=str(library[1]), token="s3cret"))
    client = TestClient(app)
    for url in ("/", "/library", "/api/models", "/api/tracks", "/docs", "/openapi.json", "/api/tracks/1/audio"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/api/tag", files={"file": ("a.flac", clip_bytes(tmp_path))}).status_code == 401
    assert client.get("/api/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/api/models?token=s3cret").status_code == 200
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    refused = subprocess.run(
        [sys.executable, "-m", "musictag", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MUSICTAG_TOKEN": ""},
    )
    assert refused.returncode == 1 and "set --token" in refused.stderr


def test_queue_full_is_429(client, tmp_path):
    gate = JobGate(queue=0)
    with gate.turn(), pytest.raises(QueueFull), gate.turn():
        pass
    state = client.app.state.musictag
    state.gate = JobGate(queue=0)
    with state.gate.turn():  # the model is busy and nobody may wait
        response = client.post("/api/tag", files={"file": ("a.flac", clip_bytes(tmp_path))})
    assert response.status_code == 429 and "waiting" in response.json()["detail"]


def test_pages_without_a_library(tiny_model_dir):
    client = TestClient(create_app(ServeSettings(model=str(tiny_model_dir))))
    assert "Tag a file" in client.get("/").text and "nav-library" not in client.get("/").text
    response = client.get("/api/tracks")
    assert response.status_code == 404 and "--db" in response.json()["detail"]


# -- a real browser ----------------------------------------------------------------------------
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(library, tiny_model_dir):
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "musictag",
        "serve",
        "--model",
        str(tiny_model_dir),
        "--db",
        str(library[1]),
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process, seconds=60, what="musictag serve")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="Chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)",
)
def test_browser_tags_an_upload_and_browses_the_library(server, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    shots = Path(os.environ.get("MUSICTAG_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    clip = tmp_path / "upload.flac"
    sf.write(clip, music_like(12.0, 22050, seed=7), 22050)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    wait = WebDriverWait(browser, 60)
    try:
        browser.get(server + "/")
        browser.find_element(By.ID, "file").send_keys(str(clip))
        wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-tagged") == "yes")
        rows = browser.find_elements(By.CSS_SELECTOR, "#tags tbody tr")
        assert len(rows) == 5
        assert browser.find_element(By.ID, "taggram").get_attribute("data-drawn") == "4"  # 12 s = 4 patches
        assert browser.find_element(By.ID, "player").get_attribute("src").startswith("blob:")
        painted = browser.execute_script(
            "const c = document.getElementById('taggram'); const d = c.getContext('2d')"
            ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
            "for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] < 250 || d[i + 1] < 250)) n++; return n;"
        )
        assert painted > 1000, "the taggram canvas is empty"
        browser.find_element(By.ID, "explain").click()
        wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-explained") == "yes")
        assert "most relevant at" in browser.find_element(By.ID, "explained").text
        assert "explaining the file's score" in browser.find_element(By.ID, "explained").text
        assert browser.find_element(By.ID, "hear").is_displayed()
        browser.save_screenshot(str(shots / "tag.png"))

        browser.get(server + "/library")
        wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "31")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#tracks tbody tr")) == 25
        search = browser.find_element(By.ID, "search")
        search.send_keys("track1")
        browser.find_element(By.ID, "apply").click()
        wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "10")
        browser.find_elements(By.CSS_SELECTOR, "#tracks button.similar")[0].click()
        wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-similar") == "5")
        assert not browser.find_element(By.ID, "similar").get_attribute("hidden")
        browser.save_screenshot(str(shots / "library.png"))
    finally:
        browser.quit()


def test_token_pages_keep_it_across_links_and_docs_work_offline(library, tiny_model_dir):
    """Defect 9: the pages' links dropped the token ("missing or wrong token" on a click) and /docs was blank
    offline (Swagger UI from a CDN, fetching /openapi.json without the token)."""
    client = TestClient(create_app(ServeSettings(model=str(tiny_model_dir), db=str(library[1]), token="s3cret")))
    assert client.get("/?token=s3cret").status_code == 200  # the address a user is given
    for link in ("/library", "/docs", "/openapi.json", "/api/tracks"):  # clicked, then fetched by the page
        assert client.get(link).status_code == 200, link
    page = client.get("/docs").text
    assert "/api/tag" in page and "/api/explain" in page and "cdn" not in page.lower() and "<script src" not in page
    client.cookies.clear()
    assert client.get("/library").status_code == 401
    assert client.get("/?token=wrong").status_code == 401


def test_serve_an_exported_onnx_model(tiny_model_dir, tmp_path):
    """Defect 10: serve --model mtt.onnx started, then answered every request with 422 "unknown model"."""
    from musictag.models.onnx_export import export_onnx

    pytest.importorskip("onnx")
    exported = export_onnx(tiny_model_dir, tmp_path / "tiny.onnx")
    client = TestClient(create_app(ServeSettings(model=str(exported))))
    tagged = client.post("/api/tag", files={"file": ("a.flac", clip_bytes(tmp_path))})
    assert tagged.status_code == 200 and len(tagged.json()["tags"]) == 5
    embedded = client.post("/api/embed", files={"file": ("a.flac", clip_bytes(tmp_path))})
    assert embedded.status_code == 200 and len(embedded.json()["embedding"]) > 0
    explained = client.post("/api/explain", files={"file": ("a.flac", clip_bytes(tmp_path))})
    assert explained.status_code == 422 and "needs the torch model" in explained.json()["detail"]
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    refused = subprocess.run(
        [sys.executable, "-m", "musictag", "serve", "--model", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1 and "not a readable ONNX model" in refused.stderr and "serving" not in refused.stdout


def test_bad_parameters_are_one_line_and_ports_are_checked_before_serving(client, tmp_path):
    """Low: 422 answers were pydantic lists; ?method=bogus was ignored; --port 99999 gave a traceback and a port
    in use printed "serving on" before failing."""
    bad = client.get("/api/tracks?limit=0")
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], str) and "limit" in bad.json()["detail"]
    bogus = client.post("/api/explain?method=bogus", files={"file": ("a.flac", clip_bytes(tmp_path))})
    assert bogus.status_code == 422 and "unknown method 'bogus'" in bogus.json()["detail"]
    serve = [sys.executable, "-m", "musictag", "serve", "--port"]
    too_big = subprocess.run([*serve, "99999"], capture_output=True, text=True, timeout=60)
    assert too_big.returncode == 2 and "from 1 to 65535" in too_big.stderr and "Traceback" not in too_big.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = subprocess.run([*serve, str(port)], capture_output=True, text=True, timeout=60)
    assert in_use.returncode == 1 and "cannot listen on 127.0.0.1" in in_use.stderr and "serving" not in in_use.stdout
