"""Library tagging throughput: ``musictag tag DIR -r --db`` with 0/1/2 worker processes, a rerun on the
unchanged library, the ONNX backend, and Ray on a local 2-CPU cluster. Prints one table.

    python benchmarks/library_throughput.py ../shared/data/gtzan_mini --files 1000 --work /tmp/libbench

The library is ``--files`` distinct 30-s FLAC files made from the GTZAN tracks (each track at several
gains, so no two files share content). Every run starts from an empty database and runs in its own
process, as a user would run it (model loading and, for Ray, cluster start-up included).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf


def build_library(source: Path, out: Path, count: int) -> list[Path]:
    tracks = sorted(p for p in source.rglob("*") if p.suffix.lower() in (".wav", ".au", ".flac", ".mp3"))
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        track = tracks[i % len(tracks)]
        path = out / f"{i // 100:02d}" / f"{track.stem}-{i // len(tracks):03d}.flac"
        files.append(path)
        if path.exists():
            continue
        audio, rate = sf.read(track, dtype="float32")
        path.parent.mkdir(exist_ok=True)
        sf.write(path, audio * (1.0 - 0.01 * (i // len(tracks))), rate)  # another gain: other bytes, other hash
    return files


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:  # the library has no broken files: any failure is the run's
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gtzan", type=Path)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/libbench"))
    parser.add_argument("--skip", default="", help="comma-separated runs to leave out (workers0, onnx, ray, ...)")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    library = args.work / "music"
    files = build_library(args.gtzan, library, args.files)
    hours = sum(sf.info(p).duration for p in files) / 3600
    musictag = [sys.executable, "-m", "musictag"]
    onnx = args.work / "mtt-musicnn.onnx"
    subprocess.run([*musictag, "models", "export", "mtt-musicnn", "--onnx", str(onnx)], check=True, capture_output=True)
    runs = {
        "workers0": ["--workers", "0"],
        "workers1": ["--workers", "1"],
        "workers2": ["--workers", "2"],
        "onnx": ["--model", str(onnx)],
        "ray": ["--ray", "--workers", "2"],
    }
    print(f"{len(files)} files, {hours:.1f} h of audio, mtt-musicnn, 2 cores\n")
    print("| run | seconds | files/s | x real time |")
    print("|---|---|---|---|")
    for name, extra in runs.items():
        if name in skip:
            continue
        db = args.work / f"{name}.sqlite"
        for stale in args.work.glob(f"{name}.sqlite*"):
            stale.unlink()
        seconds = timed([*musictag, "tag", str(library), "-r", "--db", str(db), "-q", *extra])
        print(
            f"| tag --db {' '.join(extra)} | {seconds:.1f} | {len(files) / seconds:.2f} | "
            f"{hours * 3600 / seconds:.0f} |",
            flush=True,
        )
        if name == "workers0":
            rerun = min(timed([*musictag, "tag", str(library), "-r", "--db", str(db), "-q"]) for _ in range(3))
            print(f"| rerun, nothing changed | {rerun:.2f} | | |", flush=True)
    one = str(files[0])
    cold = {
        name: min(timed([*musictag, "tag", one, "-q", *extra]) for _ in range(3))
        for name, extra in (("torch", []), ("onnx", ["--model", str(onnx)]))
    }
    print(f"\ncold start, one 30-s file (best of 3): torch {cold['torch']:.2f} s, onnx {cold['onnx']:.2f} s")


if __name__ == "__main__":
    main()
