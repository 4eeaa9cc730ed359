"""Feature extraction throughput against librosa computing the same features, in one run.

    python benchmarks/extract_features.py ../shared/data/gtzan_mini [--frontend musicnn]

Runs librosa (load + melspectrogram + the front end's compression) on every file in this
process and musictag's cache with 1 and 2 worker processes into fresh folders, taking turns
--repeat times (each figure is the fastest of its runs: this machine's timings vary by tens of
percent from run to run), then musictag again on a filled cache. Prints files per second, the
ratio per core, the stage breakdown and the largest difference between the two outputs.
"""

from __future__ import annotations

import os

# One core means one thread everywhere: numpy's BLAS (librosa's mel product) included.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402

from musictag.audio.discover import find_audio  # noqa: E402
from musictag.features.cache import FeatureCache  # noqa: E402
from musictag.features.presets import FRONTENDS, frontend_from  # noqa: E402


def librosa_features(path: str, cfg) -> tuple[np.ndarray, float, float]:
    start = time.perf_counter()
    y, _ = librosa.load(path, sr=cfg.sample_rate)
    loaded = time.perf_counter()
    mel = librosa.feature.melspectrogram(
        y=y,
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        n_mels=cfg.n_mels,
        fmin=cfg.f_min,
        fmax=cfg.f_max,
        htk=cfg.mel_scale == "htk",
        norm=cfg.mel_norm,
        power=cfg.power,
    ).T
    if cfg.float16_quirk:
        mel = mel.astype(np.float16).astype(np.float32)
    if cfg.compression == "log10_1p":
        mel = np.log10(1 + cfg.multiplier * mel)
    elif cfg.compression == "db":
        mel = librosa.power_to_db(mel, ref=1.0, amin=cfg.amin, top_db=None)
    elif cfg.compression == "log":
        mel = np.log(mel + cfg.eps)
    return mel.astype(np.float16), loaded - start, time.perf_counter() - loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--frontend", default="musicnn", help=f"{', '.join(FRONTENDS)} or a JSON file")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the fastest counts")
    args = parser.parse_args()
    cfg = frontend_from(args.frontend)
    files = find_audio([args.folder], recursive=True)
    print(f"{len(files)} files, front end {args.frontend}")

    librosa_features(files[0], cfg)  # warm-up (numba, FFT plans)
    librosa_wall, reference, walls, best = float("inf"), {}, {1: float("inf"), 2: float("inf")}, {}
    with tempfile.TemporaryDirectory() as tmp:
        FeatureCache(f"{tmp}/warm-up", cfg).extract(files[:1])  # warm-up (FFT plans, first allocations)
        for attempt in range(args.repeat):  # interleaved, so that a slow spell of the machine hits both
            load_s = mel_s = 0.0
            start = time.perf_counter()
            for path in files:
                reference[path], load, mel = librosa_features(path, cfg)
                load_s, mel_s = load_s + load, mel_s + mel
            if time.perf_counter() - start < librosa_wall:
                librosa_wall = time.perf_counter() - start
                load_ms, mel_ms = 1000 * load_s / len(files), 1000 * mel_s / len(files)
            for workers in (1, 2):
                cache = FeatureCache(f"{tmp}/w{workers}-{attempt}", cfg)
                start = time.perf_counter()
                result = cache.extract(files, workers=workers)
                if time.perf_counter() - start < walls[workers]:
                    walls[workers], best[workers] = time.perf_counter() - start, result
        print(
            f"librosa, 1 core:     {librosa_wall:6.2f} s  {len(files) / librosa_wall:7.1f} files/s"
            f"  (load+resample {load_ms:.1f} ms, mel {mel_ms:.1f} ms per file)"
        )
        for workers, result in best.items():
            per_file = {k: 1000 * v / max(result.computed, 1) for k, v in result.timings.items()}
            stages = ", ".join(f"{k} {v:.1f} ms" for k, v in per_file.items())
            print(
                f"musictag, {workers} worker{'s' if workers > 1 else ' '}: {walls[workers]:6.2f} s  "
                f"{len(files) / walls[workers]:7.1f} files/s  ({result.computed} computed, {len(result.failed)} "
                f"failed; per file: {stages})"
            )
        start = time.perf_counter()
        again = cache.extract(files, workers=2)
        rerun = time.perf_counter() - start
        print(f"second run (cache):  {rerun:6.2f} s  ({again.reused} reused, {again.computed} computed)")
        worst = max(
            float(np.abs(cache.load(p).astype(np.float32) - reference[p].astype(np.float32)).max()) for p in files
        )
    print(f"largest difference to librosa: {worst:.2e}")
    print(
        f"throughput per core vs librosa: {librosa_wall / walls[1]:.2f}x; "
        f"2 workers vs 1: {walls[1] / walls[2]:.2f}x (best of {args.repeat} runs each)"
    )


if __name__ == "__main__":
    main()
