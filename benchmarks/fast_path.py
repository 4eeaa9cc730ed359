"""How close each tagging path comes to this machine's limit, in one run.

    python benchmarks/fast_path.py ../shared/data/gtzan_mini [--tracks 10] [--rounds 3] [--original PYTHON]

Prints (1) the machine's measured fp32 rate (large matrix products with numpy's BLAS: sustained over
3 s, the yardstick for a path's sustained speed, and the best single product, the peak) and, from
MusiCNN's operation count, the fastest real-time factor each allows; (2) each path in one process
(torch, onnxruntime: the default) as real-time factor and share of each limit, measured just before
and just after it (their mean), over ``--rounds`` rounds, and the median shares; every measurement runs
in a process of its own;
(3) the whole `musictag tag` process on ``--tracks`` files for each path; (4) with ``--original PYTHON`` (an
interpreter with musicnn 0.1.0 and TensorFlow), the original musicnn's whole process on the same files
and each path's ratio to it.
"""

from __future__ import annotations

import argparse
import json
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


def machine_rate(seconds: float = 3.0) -> tuple[float, float]:
    """Measured fp32 FLOP/s of large matrix products: sustained over ``seconds`` (what a run of that
    length gets, the yardstick for a path's sustained speed) and the best single product (the peak)."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    best, count, start = 0.0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        a @ a
        best, count = max(best, 2 * 2048**3 / (time.perf_counter() - t)), count + 1
    return count * 2 * 2048**3 / (time.perf_counter() - start), best


def in_process(backend: str, files: list[str]) -> float:
    """Seconds of audio per second for one process tagging ``files`` (the model loaded and warmed first)."""
    tagger = open_tagger("mtt-musicnn", backend=backend)
    # warm-up on the path measured: the weights, the sessions (many files at once run on a one-thread
    # session of their own, which one file alone never opens) and their first-run allocations
    for _ in tagger.tag_many(files[:4]):
        pass
    start = time.perf_counter()
    audio = sum(result.duration for result in tagger.tag_many(files))
    return audio / (time.perf_counter() - start)


def whole_process(command: list[str]) -> float:
    """Wall-clock seconds of a command."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def measured(data: str, what: str) -> list[float]:
    """One measurement (``--one WHAT``) in a process of its own: a thread pool left spinning by one
    library (OpenMP's, onnxruntime's) would slow the next measurement in the same process."""
    done = subprocess.run([sys.executable, __file__, data, "--one", what], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def one(data: str, what: str) -> list[float]:
    """``--one``: the machine's rates (sustained, peak) or a path's real-time factor."""
    if what == "numpy":
        return list(machine_rate())
    files = [str(f) for f in find_audio([data], recursive=True)]
    return [in_process(what, files[:20])]


def main() -> None:
    """Measure and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="a folder of audio files (e.g. ../shared/data/gtzan_mini)")
    parser.add_argument("--tracks", type=int, default=10, help="files for the whole-process runs (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="in-process rounds, each with its own limit (default 3)")
    parser.add_argument("--original", metavar="PYTHON", help="an interpreter with musicnn 0.1.0 and TensorFlow")
    parser.add_argument("--one", choices=["numpy", "torch", "onnx"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.data, args.one)))
        return
    files = [str(f) for f in find_audio([args.data], recursive=True)]
    picked = files[:: max(1, len(files) // args.tracks)][: args.tracks]

    per_patch = musicnn_flops()
    print(f"MusiCNN: {per_patch / 1e9:.2f} GFLOP a patch of 2.992 s")
    print(
        f"in one process ({len(files[:20])} tracks, model warm), {args.rounds} rounds;"
        " each path between two measurements of the limit; every measurement in a process of its own:"
    )
    yardsticks = ("sustained", "peak")
    shares: dict[str, dict[str, list[float]]] = {backend: {y: [] for y in yardsticks} for backend in ("torch", "onnx")}
    for round_ in range(1, args.rounds + 1):
        print(f"  round {round_}:")
        for backend, mine in shares.items():
            # the machine's speed drifts by tens of percent from one minute to the next (shared hosts):
            # each path is compared with the limit measured just before and just after it
            before = measured(args.data, "numpy")
            speed = measured(args.data, backend)[0]
            after = measured(args.data, "numpy")
            rates = {name: (before[i] + after[i]) / 2 for i, name in enumerate(yardsticks)}
            limits = {name: rate / (per_patch / 2.992) for name, rate in rates.items()}
            for name, limit in limits.items():
                mine[name].append(speed / limit)
            told = ", ".join(f"{name} {speed / limit:.0%} of {limit:.0f}x" for name, limit in limits.items())
            print(
                f"    {backend:6} {speed:6.0f}x real time; share of the limit: {told} (2048^2 matrix products:"
                f" {before[0] / 1e9:.0f} and {after[0] / 1e9:.0f} GFLOP/s sustained over 3 s before and after,"
                f" best single product {before[1] / 1e9:.0f} and {after[1] / 1e9:.0f})"
            )
    for backend, mine in shares.items():
        told = ", ".join(f"{name} {np.median(got):.0%} ({min(got):.0%}-{max(got):.0%})" for name, got in mine.items())
        print(f"  {backend:6} median share of the limit: {told}")
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
