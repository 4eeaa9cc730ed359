"""``musictag synth prompts|audio|preview``: synthetic training music."""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import soundfile as sf

from musictag.errors import ParameterError
from musictag.synthesis.generate import BACKENDS, spectrogram_png, synthesize
from musictag.synthesis.llm import API_KEY_VARIABLES, ChatClient, api_key_from_environment, llm_prompts
from musictag.synthesis.prompts import generate_prompts, read_prompts, write_prompts
from musictag.synthesis.vocabulary import GENRES
from musictag.utils.progress import report


def add_parser(commands) -> None:
    parser = commands.add_parser("synth", help="synthetic training music: prompts")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    prompts = actions.add_parser("prompts", help="write genre descriptions (seeded grammar, or a language model)")
    prompts.add_argument("--genres", default=",".join(GENRES), help="comma-separated (default: the ten GTZAN genres)")
    prompts.add_argument("--per-genre", type=int, default=100, metavar="N", help="prompts per genre (default 100)")
    prompts.add_argument("--seed", type=int, default=0)
    prompts.add_argument("--out", required=True, metavar="FILE.jsonl")
    llm = prompts.add_argument_group(
        "language model (any OpenAI-compatible endpoint: OpenAI, vLLM, Ollama, llama.cpp server; "
        f"key from ${' or $'.join(API_KEY_VARIABLES)})"
    )
    llm.add_argument("--base-url", metavar="URL", help="e.g. http://localhost:11434/v1; without it: the grammar")
    llm.add_argument("--model", help="the endpoint's model name")
    llm.add_argument("--batch-size", type=int, default=20, help="descriptions per request (default 20)")
    llm.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    prompts.set_defaults(run=run_prompts)
    audio = actions.add_parser("audio", help="turn prompts into clips and a manifest (parallel, resumable)")
    audio.add_argument("--prompts", required=True, metavar="FILE.jsonl")
    audio.add_argument("--backend", default="procedural", choices=BACKENDS)
    audio.add_argument("--model", metavar="DIR|HUB-ID", help="MusicGen weights (e.g. facebook/musicgen-medium)")
    audio.add_argument("--batch-size", type=int, default=8, help="prompts per MusicGen batch (default 8)")
    audio.add_argument("--duration", type=float, default=10.0, help="seconds per clip (default 10)")
    audio.add_argument("--sample-rate", type=int, default=22050)
    audio.add_argument("--out", required=True, metavar="DIR")
    audio.add_argument("--workers", type=int, default=1, metavar="N")
    audio.add_argument("--quiet", "-q", action="store_true", help="no progress bar")  # fmt: skip
    audio.set_defaults(run=run_audio)
    preview = actions.add_parser("preview", help="one clip and its spectrogram per genre")
    preview.add_argument("--out", required=True, metavar="DIR")
    preview.add_argument("--genres", default=",".join(GENRES))
    preview.add_argument("--seed", type=int, default=0)
    preview.set_defaults(run=run_preview)


def run_prompts(args: argparse.Namespace) -> int:
    genres = [g.strip() for g in args.genres.split(",") if g.strip()]
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
    records = read_prompts(args.prompts)
    musicgen = None
    if args.backend == "musicgen":
        from musictag.synthesis.musicgen import MusicGen

        musicgen = MusicGen(args.model or "facebook/musicgen-medium")
    result = synthesize(records, args.out, backend=args.backend, duration=args.duration, sample_rate=args.sample_rate,
                        workers=args.workers, quiet=args.quiet, musicgen=musicgen,
                        batch_size=args.batch_size)  # fmt: skip
    for error in result.failed:
        report(f"musictag: {error}")
    rate = result.made / result.seconds if result.seconds else 0.0
    print(f"{result.made} clips made ({rate:.1f}/s), {result.skipped} already there, {len(result.failed)} failed "
          f"-> {Path(args.out) / 'manifest.csv'}")  # fmt: skip
    return 1 if result.failed else 0


def run_preview(args: argparse.Namespace) -> int:
    from musictag.synthesis.compose import compose
    from musictag.synthesis.render import render

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for genre in [g.strip() for g in args.genres.split(",") if g.strip()]:
        prompt = generate_prompts(genre, 1, seed=args.seed)[0]
        arrangement = compose(genre, prompt, args.seed, duration=10.0)
        audio = render(arrangement, sample_rate=22050, seed=args.seed)
        sf.write(out / f"{genre}.flac", audio, 22050)
        voice = {"sung": f"{arrangement.singer} singer", "rap": f"{arrangement.singer} rapper"}.get(
            arrangement.vocal, "instrumental"
        )
        programs = {role: p for role, p in arrangement.programs.items() if role != "voice"}
        title = f"{genre}: {arrangement.bpm:.0f} bpm, {arrangement.mode}, {voice}, programs {programs}"
        spectrogram_png(audio, 22050, out / f"{genre}.png", title)
        print(f"{genre}: {prompt}")
    return 0
