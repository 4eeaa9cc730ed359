"""Prompts from an OpenAI-compatible endpoint: a chat-completions server on 127.0.0.1 stands in."""

import json
import re
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from musictag.cli.main import main
from musictag.synthesis.llm import ChatClient, LLMError, llm_prompts, parse_descriptions
from musictag.synthesis.prompts import read_prompts


class FakeEndpoint(BaseHTTPRequestHandler):
    """Answers batch requests with fenced JSON holding valid and invalid descriptions; the first
    request gets a 503 (to be retried), and ``fail_with`` makes every request fail."""

    requests: list[dict]
    fail_with: int | None = None
    nonsense: bool = False  # answer 200 with content that holds no description

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.fail_with or len(type(self).requests) == 1:
            self.send_response(self.fail_with or 503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        asked = body["messages"][-1]["content"]
        n, genre = re.search(r"Write (\d+) .* instrumental (\w+) music", asked).groups()
        batch = re.search(r"\(batch (\d+)\)", asked).group(1)
        good = [
            f"A warm instrumental {genre} track, take {batch}.{i}, with brushed drums and a mellow bass line"
            for i in range(int(n) - 2)
        ]
        bad = ["Too short", f"A long flowing {genre} piece that goes on and on " + "and on " * 60]
        if type(self).nonsense:
            good = []
        content = "Sure! Here they are:\n```json\n" + json.dumps(good + bad + good[:1]) + "\n```"
        answer = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    FakeEndpoint.requests, FakeEndpoint.fail_with, FakeEndpoint.nonsense = [], None, False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", FakeEndpoint
    server.shutdown()
    server.server_close()


def test_prompts_command_asks_the_endpoint_in_batches_retries_validates_and_caches(endpoint, tmp_path, monkeypatch):
    url, handler = endpoint
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICTAG_LLM_API_KEY", "secret")
    monkeypatch.setattr("musictag.synthesis.llm.ChatClient", partial(ChatClient, backoff=0.01))
    out = tmp_path / "prompts.jsonl"
    argv = [
        "synth",
        "prompts",
        "--genres",
        "jazz,metal",
        "--per-genre",
        "25",
        "--out",
        str(out),
        "--base-url",
        url,
        "--model",
        "tiny-llm",
        "--batch-size",
        "10",
    ]
    assert main(argv) == 0
    records = read_prompts(out)
    assert [r["genre"] for r in records] == ["jazz"] * 25 + ["metal"] * 25
    prompts = [r["prompt"] for r in records]
    assert len(set(prompts)) == 50 and all(
        r["genre"] in r["prompt"] and len(r["prompt"].split()) <= 60 for r in records
    )
    sent = handler.requests
    assert all(r["path"] == "/v1/chat/completions" and r["auth"] == "Bearer secret" for r in sent)
    assert all(r["body"]["model"] == "tiny-llm" for r in sent)
    # 8 valid per batch of 10: 4 batches per genre, plus the first request's 503 retried
    assert len(sent) == 9
    out.unlink()
    assert main(argv) == 0  # every answer comes from the cache now
    assert len(handler.requests) == 9 and [r["prompt"] for r in read_prompts(out)] == prompts


def test_answers_without_valid_descriptions_are_not_cached(endpoint, tmp_path):
    """Defect 12: invalid answers were cached and reused, so a later run against a working server sent nothing and
    still failed."""
    url, handler = endpoint
    client = ChatClient(url, "tiny", retries=1, backoff=0.01)
    llm_prompts("jazz", 1, client, cache=tmp_path, batch_size=5)  # the first request's 503 out of the way
    before = len(handler.requests)
    handler.nonsense = True
    with pytest.raises(LLMError, match="only 0 valid jazz descriptions"):
        llm_prompts("jazz", 5, client, cache=tmp_path / "c", batch_size=5, max_batches=2)
    assert len(handler.requests) == before + 2 and not list((tmp_path / "c").glob("*.json"))
    handler.nonsense = False  # the server works now: the same run asks again and succeeds
    assert len(llm_prompts("jazz", 5, client, cache=tmp_path / "c", batch_size=5, max_batches=2)) == 5
    assert len(handler.requests) == before + 4  # two more requests: 3 valid descriptions in each answer


def test_endpoint_that_keeps_failing_is_one_error_after_bounded_retries(endpoint, tmp_path):
    url, handler = endpoint
    handler.fail_with = 500
    client = ChatClient(url, "tiny", retries=2, backoff=0.01)
    with pytest.raises(LLMError, match=r"HTTP 500"):
        llm_prompts("jazz", 5, client, cache=tmp_path)
    assert len(handler.requests) == 3
    handler.requests.clear()
    handler.fail_with = 401  # not transient: no retry
    with pytest.raises(LLMError, match=r"HTTP 401"):
        llm_prompts("jazz", 5, client, cache=tmp_path)
    assert len(handler.requests) == 1


def test_unreachable_endpoint_is_a_one_line_error_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("musictag.synthesis.llm.ChatClient", partial(ChatClient, retries=1, backoff=0.01))
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path))
    argv = [
        "synth",
        "prompts",
        "--genres",
        "jazz",
        "--per-genre",
        "3",
        "--out",
        str(tmp_path / "p.jsonl"),
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
    ]
    assert main(argv) != 0
    error = capsys.readouterr().err.strip()
    assert "127.0.0.1:9" in error and "\n" not in error and "Traceback" not in error
    assert not (tmp_path / "p.jsonl").exists()


def test_answers_are_parsed_as_json_or_numbered_lines_and_validated():
    assert parse_descriptions('["A calm blues tune with slide guitar and harmonica", 3, "blues"]', "blues") == [
        "A calm blues tune with slide guitar and harmonica"
    ]
    lines = "1. a gritty blues shuffle with an overdriven harmonica\n2) A rock anthem with big drums and more\n- x"
    assert parse_descriptions(lines, "blues") == ["A gritty blues shuffle with an overdriven harmonica"]


def test_synth_audio_with_a_missing_prompts_file_is_one_line(tmp_path, capsys):
    """Defect 13: synth audio --prompts missing.jsonl gave a FileNotFoundError traceback."""
    assert main(["synth", "audio", "--prompts", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "missing.jsonl: no such prompts file" in err and len(err.splitlines()) == 1
    (tmp_path / "folder.jsonl").mkdir()
    assert main(["synth", "audio", "--prompts", str(tmp_path / "folder.jsonl"), "--out", str(tmp_path / "o")]) == 1
    assert "cannot read the prompts file" in capsys.readouterr().err
