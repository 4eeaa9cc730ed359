"""A bounded load test of ``musictag serve``: N concurrent tag requests of short clips on 127.0.0.1.

    python benchmarks/serve_load.py --requests 50 --seconds 5

Starts the server on a free loopback port, sends every request once at the same time (one thread
each, nothing retried), prints the status counts, p50/p95 latency and throughput, and stops it.
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import soundfile as sf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clip(seconds: float, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 22050)) / 22050
    audio = 0.3 * np.sin(2 * np.pi * (220 + 40 * seed) * t) + 0.05 * rng.standard_normal(len(t))
    out = io.BytesIO()
    sf.write(out, audio.astype(np.float32), 22050, format="FLAC")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0, help="clip length")
    parser.add_argument("--model", default="mtt-musicnn")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "musictag", "serve", "--model", args.model, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/api/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        clips = [clip(args.seconds, i % 8) for i in range(args.requests)]
        with httpx.Client(timeout=600) as warm:  # the model loads on the first request: not part of the figures
            warm.post(base + "/api/tag", files={"file": ("warm.flac", clips[0])})

        def one(data: bytes) -> tuple[int, float]:
            start = time.perf_counter()
            with httpx.Client(timeout=600) as client:
                status = client.post(base + "/api/tag", files={"file": ("clip.flac", data)}).status_code
            return status, time.perf_counter() - start

        start = time.perf_counter()
        with ThreadPoolExecutor(args.requests) as pool:
            results = list(pool.map(one, clips))
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)
    statuses = {code: sum(1 for s, _ in results if s == code) for code in sorted({s for s, _ in results})}
    latencies = np.array([seconds for _, seconds in results])
    print(f"{args.requests} concurrent POST /api/tag of {args.seconds:g}-s clips, {args.model}, 127.0.0.1")
    print(f"statuses: {statuses}")
    print(
        f"latency p50 {np.percentile(latencies, 50):.2f} s, p95 {np.percentile(latencies, 95):.2f} s, "
        f"max {latencies.max():.2f} s; {args.requests / wall:.1f} requests/s over {wall:.1f} s"
    )


if __name__ == "__main__":
    main()
