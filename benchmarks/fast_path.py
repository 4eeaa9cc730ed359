"""How close each tagging path comes to this machine's limit, in one run.

    python benchmarks/fast_path.py ../shared/data/gtzan_mini [--tracks 10] [--rounds 3] [--original PYTHON]

Prints (1) the machine's measured fp32 rate (large matrix products with numpy's BLAS, near the CPU's
peak) and, from MusiCNN's operation count, the fastest real-time factor the machine allows (beside it,
the same from torch's best matrix product or convolution: a lower yardstick, near the 139-143 GFLOP/s
issue 32 measured "for large matmuls and convolutions"); (2) each path in one
process (torch, onnxruntime: the default) as real-time factor and share of the limit measured just
before it, over ``--rounds`` rounds, and the median share; (3) the whole
`musictag tag` process on ``--tracks`` files for each path; (4) with ``--original PYTHON`` (an
interpreter with musicnn 0.1.0 and TensorFlow), the original musicnn's whole process on the same files
and each path's ratio to it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from musictag.audio.discover import find_audio
from musictag.inference.factory import open_tagger


def musicnn_flops(
    n_mels: int = 96, frames: int = 187, timbral: int = 204, temporal: int = 51, midend: int = 64
) -> float:
    """Multiply-adds x 2 of one MusiCNN patch (the pretrained size)."""
    flops = 0.0
    for share in (0.4, 0.7):  # timbral: 7 x share*F kernels, 'same' in time
        kw = int(share * n_mels)
        flops += 2 * timbral * 7 * kw * frames * (n_mels - kw + 1)
    for k in (128, 64, 32):  # temporal: k x 1 kernels over every band
        flops += 2 * temporal * k * frames * n_mels
    channels = 2 * timbral + 3 * temporal
    for c_in in (channels, midend, midend):  # mid end: 7-wide 1-D convolutions
        flops += 2 * midend * c_in * 7 * frames
    pooled = 2 * (channels + 3 * midend)
    return flops + 2 * pooled * 200 + 2 * 200 * 50


def machine_rate(seconds: float = 3.0) -> float:
    """Measured fp32 FLOP/s of large matrix products (the best of repeated runs)."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        a @ a
        best = max(best, 2 * 2048**3 / (time.perf_counter() - t))
    return best


def torch_rate(seconds: float = 3.0) -> float | None:
    """The best fp32 FLOP/s of torch's large matrix products and convolutions (issue 32's limit came from
    "large matmuls and convolutions", 139-143 GFLOP/s on this kind of machine); None without torch."""
    try:
        import torch
    except ImportError:
        return None
    a = torch.randn(2048, 2048)
    x, w = torch.randn(16, 64, 64, 64), torch.randn(128, 64, 3, 3)
    work = {
        (lambda: a @ a): 2 * 2048**3,
        (lambda: torch.nn.functional.conv2d(x, w, padding=1)): 2 * 16 * 128 * 64 * 9 * 64 * 64,
    }
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for run, flops in work.items():
            t = time.perf_counter()
            run()
            best = max(best, flops / (time.perf_counter() - t))
    return best


def in_process(backend: str, files: list[str]) -> float:
    """Seconds of audio per second for one process tagging ``files`` (the model loaded and warmed first)."""
    tagger = open_tagger("mtt-musicnn", backend=backend)
    tagger.tag(files[0])  # warm-up: weights, caches, first-run allocations
    start = time.perf_counter()
    audio = sum(result.duration for result in tagger.tag_many(files))
    return audio / (time.perf_counter() - start)


def whole_process(command: list[str]) -> float:
    """Wall-clock seconds of a command."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    """Measure and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="a folder of audio files (e.g. ../shared/data/gtzan_mini)")
    parser.add_argument("--tracks", type=int, default=10, help="files for the whole-process runs (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="in-process rounds, each with its own limit (default 3)")
    parser.add_argument("--original", metavar="PYTHON", help="an interpreter with musicnn 0.1.0 and TensorFlow")
    args = parser.parse_args()
    files = [str(f) for f in find_audio([args.data], recursive=True)]
    picked = files[:: max(1, len(files) // args.tracks)][: args.tracks]

    per_patch = musicnn_flops()
    print(f"MusiCNN: {per_patch / 1e9:.2f} GFLOP a patch of 2.992 s")
    print(
        f"in one process ({len(files[:20])} tracks, model warm), {args.rounds} rounds;"
        " each round measures the limit first:"
    )
    shares: dict[str, list[float]] = {"torch": [], "onnx": []}
    by_torch: dict[str, list[float]] = {"torch": [], "onnx": []}
    for round_ in range(1, args.rounds + 1):
        # the machine's speed drifts by tens of percent (shared hosts): each path is compared with the
        # limit measured just before it, not with one measured minutes earlier
        rate, torch_limit = machine_rate(), torch_rate()
        limit = rate / (per_patch / 2.992)
        print(f"  round {round_}: machine {rate / 1e9:.0f} GFLOP/s fp32 (2048^2 matrix products): limit {limit:.0f}x")
        if torch_limit:
            torch_limit /= per_patch / 2.992
            print(f"    (torch's best matrix product or convolution, a lower yardstick: {torch_limit:.0f}x)")
        for backend in shares:
            speed = in_process(backend, files[:20])
            shares[backend].append(speed / limit)
            extra = ""
            if torch_limit:
                by_torch[backend].append(speed / torch_limit)
                extra = f"  ({speed / torch_limit:.0%} of torch's)"
            print(f"    {backend:6} {speed:6.0f}x real time  {speed / limit:5.0%} of the limit{extra}")
    for backend, values in shares.items():
        low, mid, high = min(values), float(np.median(values)), max(values)
        extra = f"; of torch's yardstick {np.median(by_torch[backend]):.0%}" if by_torch[backend] else ""
        print(f"  {backend:6} median {mid:5.0%} of the limit (range {low:.0%}-{high:.0%}){extra}")
    musictag = [str(Path(sys.executable).with_name("musictag")), "tag", *picked, "-q", "--format", "csv"]
    print(f"\nwhole process, {len(picked)} tracks (`musictag tag FILES`, start-up and loading included):")
    times = {
        "torch": whole_process([*musictag, "--backend", "torch"]),
        "onnx (default)": whole_process(musictag),
    }
    if args.original:
        code = (
            "import sys; from musicnn.tagger import top_tags\nfor f in sys.argv[1:]: top_tags(f, model='MTT_musicnn')"
        )
        times["original musicnn"] = whole_process([args.original, "-c", code, *picked])
    for name, seconds in times.items():
        ratio = f"  {times['original musicnn'] / seconds:5.1f}x the original" if "original musicnn" in times else ""
        print(f"  {name:17} {seconds:6.2f} s{ratio}")
    if not args.original:
        print("  (no --original PYTHON: the original musicnn's environment was not given, so no ratio)")


if __name__ == "__main__":
    main()
