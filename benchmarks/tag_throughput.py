"""Tagging throughput: seconds of audio tagged per wall-clock second, with a breakdown.

    python benchmarks/tag_throughput.py ../shared/data/gtzan_mini [--model mtt-musicnn]
    python benchmarks/tag_throughput.py --long-minutes 120     # peak memory on one 2-hour file

The whole pipeline runs end to end as `musictag tag` does, then each stage (decode +
resample, log-mel, model) is timed alone on the same files. Peak RSS is the process's
maximum resident set size.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from musictag import Tagger
from musictag.audio.discover import find_audio
from musictag.audio.stream import load
from musictag.features.patches import iter_patches


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_breakdown(tagger: Tagger, files: list[str]) -> dict[str, float]:
    fe = tagger.frontend.config
    times = {"decode+resample": 0.0, "log-mel": 0.0, "model": 0.0}
    patches = []
    for path in files:
        start = time.perf_counter()
        audio = load(path, sample_rate=fe.sample_rate)
        times["decode+resample"] += time.perf_counter() - start
        start = time.perf_counter()
        mel = tagger.frontend(torch.from_numpy(audio))
        times["log-mel"] += time.perf_counter() - start
        cut = iter_patches([mel.numpy()], length=tagger.patch_frames, hop=tagger.hop_frames)
        patches.extend(torch.from_numpy(p) for p in cut)
    batches = torch.cat(patches).split(tagger.batch_size)
    start = time.perf_counter()
    for batch in batches:
        tagger._forward(batch, ("taggram",))
    times["model"] = time.perf_counter() - start
    return times


def long_file_memory(minutes: float, model: str) -> None:
    """Write a long 44.1 kHz stereo FLAC in blocks, then tag it in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.flac"
        rng = np.random.default_rng(0)
        sr = 44100
        with sf.SoundFile(path, "w", sr, 2, format="FLAC", subtype="PCM_16") as out:
            t = np.arange(sr * 60) / sr
            for minute in range(int(minutes)):
                tone = 0.3 * np.sin(2 * np.pi * (220 + 20 * minute) * t)
                block = np.stack([tone, tone], axis=1) + 0.05 * rng.standard_normal((len(t), 2))
                out.write(block.astype(np.float32))
        code = (
            "import resource,time,sys; from musictag import Tagger; t=Tagger(sys.argv[2]); s=time.perf_counter(); "
            "r=t.tag(sys.argv[1]); w=time.perf_counter()-s; "
            "print(f'{r.duration/60:.0f} min file: {r.duration/w:.1f}x real time, {len(r.taggram)} patches, "
            "peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB')"
        )
        subprocess.run([sys.executable, "-c", code, str(path), model], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", help="folder of audio files to tag")
    parser.add_argument("--model", default="mtt-musicnn")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--long-minutes", type=float, help="also tag one synthetic file this long")
    args = parser.parse_args()

    if args.folder:
        files = find_audio([args.folder], recursive=True)
        tagger = Tagger(args.model, batch_size=args.batch_size)
        print(
            f"{len(files)} files, model {args.model}, batch {args.batch_size}, torch threads {torch.get_num_threads()}"
        )
        tagger.tag(files[0])  # warm-up: weights, allocator, oneDNN kernels
        start = time.perf_counter()
        results = list(tagger.tag_many(files))
        wall = time.perf_counter() - start
        audio_seconds = sum(r.duration for r in results if hasattr(r, "duration"))
        failed = sum(1 for r in results if not hasattr(r, "duration"))
        print(
            f"end to end: {audio_seconds:.0f} s of audio in {wall:.1f} s = {audio_seconds / wall:.1f}x real time"
            f" ({failed} failed), peak RSS {peak_rss_mb():.0f} MB"
        )
        stages = stage_breakdown(tagger, files)
        total = sum(stages.values())
        for name, seconds in stages.items():
            share, speed = 100 * seconds / total, audio_seconds / seconds
            print(f"  {name:<16} {seconds:6.2f} s  {share:5.1f} %  ({speed:7.1f}x real time)")
        print(f"  {'sum of stages':<16} {total:6.2f} s (the pipeline runs the same stages one after the other)")
    if args.long_minutes:
        long_file_memory(args.long_minutes, args.model)


if __name__ == "__main__":
    main()
