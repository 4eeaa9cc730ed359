"""``musictag synth prompts|audio|preview``: synthetic training music."""

from __future__ import annotations

import argparse
from pathlib import Path

from musictag.cli.options import positive_int, positive_seconds
from musictag.synthesis.backends import BACKENDS
from musictag.synthesis.llm import API_KEY_VARIABLES
from musictag.synthesis.vocabulary import GENRES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    prompts = actions.add_parser("prompts", help="write genre descriptions (seeded grammar, or a language model)")
    prompts.add_argument("--genres", default=",".join(GENRES), help="comma-separated (default: the ten GTZAN genres)")
    prompts.add_argument(
        "--per-genre", type=positive_int, default=100, metavar="N", help="prompts per genre (default 100)"
    )
    prompts.add_argument("--seed", type=int, default=0, help="grammar seed (default 0)")
    prompts.add_argument(
        "--output",
        "--out",
        "-o",
        dest="out",
        required=True,
        metavar="FILE.jsonl",
        help="where to write the prompts (JSON lines)",
    )
    llm = prompts.add_argument_group(
        "language model (any OpenAI-compatible endpoint: OpenAI, vLLM, Ollama, llama.cpp server; "
        f"key from ${' or $'.join(API_KEY_VARIABLES)})"
    )
    llm.add_argument("--base-url", metavar="URL", help="e.g. http://localhost:11434/v1; without it: the grammar")
    llm.add_argument("--model", help="the endpoint's model name")
    llm.add_argument("--batch-size", type=positive_int, default=20, help="descriptions per request (default 20)")
    llm.add_argument("--concurrency", type=positive_int, default=4, help="requests in flight (default 4)")
    prompts.set_defaults(run=run_prompts)
    audio = actions.add_parser("audio", help="turn prompts into clips and a manifest (parallel, resumable)")
    audio.add_argument("--prompts", required=True, metavar="FILE.jsonl", help="from 'musictag synth prompts'")
    audio.add_argument("--backend", default="procedural", choices=BACKENDS, help="default procedural (offline)")
    audio.add_argument("--model", metavar="DIR|HUB-ID", help="MusicGen weights (default facebook/musicgen-medium)")
    audio.add_argument("--batch-size", type=positive_int, default=8, help="prompts per MusicGen batch (default 8)")
    audio.add_argument("--duration", type=positive_seconds, default=10.0, help="seconds per clip (default 10)")
    audio.add_argument("--sample-rate", type=positive_int, default=22050, help="Hz (default 22050)")
    audio.add_argument(
        "--output",
        "--out",
        "-o",
        dest="out",
        required=True,
        metavar="DIR",
        help="folder for the clips and manifest.csv",
    )
    audio.add_argument("--workers", type=positive_int, default=1, metavar="N", help="procedural: processes (default 1)")
    audio.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    audio.set_defaults(run=run_audio)
    preview = actions.add_parser("preview", help="one clip and its spectrogram per genre")
    preview.add_argument(
        "--output",
        "--out",
        "-o",
        dest="out",
        required=True,
        metavar="DIR",
        help="folder for <genre>.flac and <genre>.png",
    )
    preview.add_argument("--genres", default=",".join(GENRES), help="comma-separated (default: all ten)")
    preview.add_argument("--seed", type=int, default=0, help="prompt and composition seed (default 0)")
    preview.set_defaults(run=run_preview)


def _genres(text: str) -> list[str]:
    return [g.strip() for g in text.split(",") if g.strip()]


def run_prompts(args: argparse.Namespace) -> int:
    import time
    from functools import partial

    from musictag.errors import ParameterError
    from musictag.synthesis.llm import ChatClient, api_key_from_environment, llm_prompts
    from musictag.synthesis.prompts import generate_prompts, write_prompts

    genres = _genres(args.genres)
    source = generate_prompts
    if args.base_url:
        if not args.model:
            raise ParameterError("--base-url needs --model (the endpoint's model name)")
        client = ChatClient(args.base_url, args.model, api_key=api_key_from_environment())
        source = partial(llm_prompts, client=client, batch_size=args.batch_size, concurrency=args.concurrency)
    start = time.perf_counter()
    written = write_prompts(args.out, genres, args.per_genre, seed=args.seed, source=source)
    print(f"{written} prompts for {len(genres)} genres in {time.perf_counter() - start:.2f} s -> {args.out}")
    return 0 if written == len(genres) * args.per_genre else 1


def run_audio(args: argparse.Namespace) -> int:
    from musictag.synthesis.backends import make_backend
    from musictag.synthesis.generate import synthesize
    from musictag.synthesis.prompts import read_prompts
    from musictag.synthesis.render import soundfont_note, voice_note
    from musictag.utils.progress import report

    records = read_prompts(args.prompts)
    backend = make_backend(args.backend, model=args.model, workers=args.workers, batch_size=args.batch_size)
    settings = backend.settings()
    for note in (soundfont_note(str(settings)), voice_note(settings.get("voice"))):
        if note:
            report(f"musictag: note: {note}")
    result = synthesize(
        records, args.out, backend=backend, duration=args.duration, sample_rate=args.sample_rate, quiet=args.quiet
    )
    for error in result.failed:
        report(f"musictag: {error}")
    rate = result.made / result.seconds if result.seconds else 0.0
    print(
        f"{result.made} clips made ({rate:.1f}/s), {result.skipped} already there, {len(result.failed)} failed "
        f"-> {Path(args.out) / 'manifest.csv'}"
    )
    return 1 if result.failed else 0


def run_preview(args: argparse.Namespace) -> int:
    from musictag.synthesis.generate import preview

    for genre, prompt in preview(_genres(args.genres), args.out, seed=args.seed):
        print(f"{genre}: {prompt}")
    return 0
