"""Genre prompts from a language model behind any OpenAI-compatible chat-completions endpoint.

Works with OpenAI, vLLM, Ollama and llama.cpp's server: ``POST {base_url}/chat/completions``.
Each request asks for a batch of descriptions as a JSON array; requests run a few at a time,
are retried with exponential backoff on connection errors, 429 and 5xx (honouring
``Retry-After``), and every answer that holds valid descriptions is cached on disk by the
request's content, so a rerun sends nothing (an answer with none is asked for again next time).
Answers are validated: one sentence each, 6 to 60 words, naming the genre, no
duplicates; anything else is dropped and more batches are asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from musictag.errors import MusictagError, ParameterError
from musictag.utils.atomic import atomic_open
from musictag.utils.paths import cache_dir

if TYPE_CHECKING:
    import urllib.error

API_KEY_VARIABLES = ("MUSICTAG_LLM_API_KEY", "OPENAI_API_KEY")
SYSTEM = "You write short, vivid descriptions of music for a text-to-music generator."
REQUEST = (
    "Write {n} different one-sentence descriptions of an instrumental {genre} music track. Vary the "
    "instruments, playing style, mood, tempo, era, setting and production. Each must contain the word "
    '"{genre}". Answer with a JSON array of {n} strings and nothing else. (batch {batch})'
)
_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class LLMError(MusictagError):
    """The endpoint failed for good (after retries) or never gave enough valid descriptions."""


@dataclass
class ChatClient:
    """A minimal OpenAI-compatible chat-completions client (standard library only)."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 120.0
    retries: int = 5
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    temperature: float = 1.0

    def complete(self, messages: list[dict], *, seed: int | None = None) -> str:
        """The first choice's message content; retried on transient failures."""
        import urllib.error  # the network stack only when a request is made: `musictag synth --help` reads this module
        import urllib.request

        body = {"model": self.model, "messages": messages, "temperature": self.temperature}
        if seed is not None:
            body["seed"] = seed
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url.rstrip("/") + "/chat/completions"
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    answer = json.loads(response.read())
                return answer["choices"][0]["message"]["content"]
            except urllib.error.HTTPError as exc:
                if exc.code not in _RETRY_STATUS or attempt == self.retries:
                    raise LLMError(f"{url}: HTTP {exc.code} {exc.reason}") from None
                wait = _retry_after(exc) or self.backoff * 2**attempt
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries:
                    reason = getattr(exc, "reason", exc)
                    raise LLMError(f"{url}: {reason} (after {self.retries} retries)") from None
                wait = self.backoff * 2**attempt
            except (ValueError, KeyError, IndexError, TypeError):
                raise LLMError(f"{url}: not a chat-completions answer") from None
            time.sleep(wait)
        raise AssertionError("unreachable")


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    try:
        return float(exc.headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None


def api_key_from_environment() -> str | None:
    """The first API key set among :data:`API_KEY_VARIABLES`, or None."""
    return next((os.environ[name] for name in API_KEY_VARIABLES if os.environ.get(name)), None)


def parse_descriptions(content: str, genre: str) -> list[str]:
    """The valid descriptions in an answer: a JSON array of strings (or, failing that, one per
    line, numbering and bullets removed), each one sentence of 6 to 60 words naming the genre."""
    text = content.strip()
    fenced = re.search(r"\[.*\]", text, re.S)  # models like to wrap JSON in prose or code fences
    try:
        candidates = json.loads(fenced.group(0)) if fenced else None
    except ValueError:
        candidates = None
    if not isinstance(candidates, list):
        candidates = [re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line) for line in text.splitlines()]
    valid = []
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        sentence = " ".join(candidate.split()).strip().strip('"').strip()
        words = len(sentence.split())
        if 6 <= words <= 60 and genre.lower() in sentence.lower() and "\n" not in candidate.strip():
            valid.append(sentence[0].upper() + sentence[1:])
    return valid


def llm_prompts(
    genre: str,
    count: int,
    client: ChatClient,
    *,
    seed: int = 0,
    batch_size: int = 20,
    concurrency: int = 4,
    cache: Path | None = None,
    max_batches: int | None = None,
) -> list[str]:
    """``count`` distinct descriptions of ``genre``, asked for ``batch_size`` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    if count < 1 or batch_size < 1 or concurrency < 1:
        raise ParameterError("count, batch_size and concurrency must be at least 1")
    cache = Path(cache) if cache is not None else cache_dir() / "llm-prompts"
    needed = -(-count // batch_size)
    max_batches = max_batches or 3 * needed + 2
    seen: dict[str, None] = {}
    batch = 0
    with ThreadPoolExecutor(concurrency) as pool:
        while len(seen) < count and batch < max_batches:
            wave = range(batch, min(batch + max(needed, 1), max_batches))
            batch = wave.stop
            for valid in pool.map(lambda b: _cached_batch(client, genre, batch_size, seed, b, cache), wave):
                for sentence in valid:
                    seen.setdefault(sentence)
            needed = -(-(count - len(seen)) // batch_size)
    if len(seen) < count:
        raise LLMError(
            f"{client.base_url}: only {len(seen)} valid {genre} descriptions of {count} after {batch} requests"
        )
    return list(seen)[:count]


def _cached_batch(client: ChatClient, genre: str, n: int, seed: int, batch: int, cache: Path) -> list[str]:
    """One batch's valid descriptions; an answer is cached only when it has some (a broken server's
    answers would otherwise be reused by every later run, which would then send nothing)."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": REQUEST.format(n=n, genre=genre, batch=batch)},
    ]
    request_seed = seed * 100_003 + batch
    key = json.dumps([client.base_url, client.model, client.temperature, request_seed, messages], sort_keys=True)
    path = cache / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    if path.is_file():
        valid = parse_descriptions(json.loads(path.read_text())["content"], genre)
        if valid:
            return valid
    content = client.complete(messages, seed=request_seed)
    valid = parse_descriptions(content, genre)
    if valid:
        with atomic_open(path) as handle:
            json.dump({"content": content}, handle)
    return valid
