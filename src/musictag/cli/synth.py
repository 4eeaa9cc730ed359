"""``musictag synth prompts``: genre descriptions for text-to-music generation."""

from __future__ import annotations

import argparse
import time

from musictag.synthesis.prompts import write_prompts
from musictag.synthesis.vocabulary import GENRES


def add_parser(commands) -> None:
    parser = commands.add_parser("synth", help="synthetic training music: prompts")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    prompts = actions.add_parser("prompts", help="write genre descriptions (seeded grammar, offline)")
    prompts.add_argument("--genres", default=",".join(GENRES), help="comma-separated (default: the ten GTZAN genres)")
    prompts.add_argument("--per-genre", type=int, default=100, metavar="N", help="prompts per genre (default 100)")
    prompts.add_argument("--seed", type=int, default=0)
    prompts.add_argument("--out", required=True, metavar="FILE.jsonl")
    prompts.set_defaults(run=run_prompts)


def run_prompts(args: argparse.Namespace) -> int:
    genres = [g.strip() for g in args.genres.split(",") if g.strip()]
    start = time.perf_counter()
    written = write_prompts(args.out, genres, args.per_genre, seed=args.seed)
    print(f"{written} prompts for {len(genres)} genres in {time.perf_counter() - start:.2f} s -> {args.out}")
    return 0 if written == len(genres) * args.per_genre else 1
