"""Key and tempo, side by side with essentia (and librosa's tempo) on the same tracks.

    python benchmarks/key_tempo.py ../shared/data [--clips-per-style 13] [--skip-speed]

Prints (1) MIREX weighted key scores (mir_eval) on the annotated gtzan_mini tracks for each of musictag's
key profiles and each of essentia's KeyExtractor profiles; (2) tempo Accuracy1 (within 4 %) and
Accuracy2 (also at 1/3, 1/2, 2 and 3 times) on clips musictag's composer renders at known tempi, 60-180
BPM in every style (seeds other than those the method was tuned on), for musictag, essentia's
RhythmExtractor2013 and librosa's tempo; (3) on the real gtzan_mini tracks, how often musictag's tempo
agrees with essentia's; (4) what --describe key,bpm adds to a whole `musictag tag` of one 30-s track.
essentia (AGPL) and librosa are optional here and never a dependency of musictag.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from musictag.audio.stream import AudioStream
from musictag.describe.key import PITCH_CLASSES, PROFILES, estimate_key
from musictag.describe.tempo import estimate_tempo

RATE = 16000


def _optional(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def load(path: Path) -> np.ndarray:
    return np.concatenate(list(AudioStream(str(path), RATE)))


def key_table(data: Path) -> None:
    import mir_eval

    with open(data / "annotations/gtzan_key/keys.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    tracks = []
    for row in rows:
        path = data / "gtzan_mini" / row["track"].split(".")[0] / f"{row['track']}.flac"
        if row["key"] != "unknown" and path.exists():
            tracks.append((path, row["key"]))
    print(f"## Key: {len(tracks)} annotated gtzan_mini tracks (Kraft & Lerch), MIREX weighted score\n")
    print("| method | weighted score | unknown |\n|---|---|---|")
    audio = {path: load(path) for path, _ in tracks}
    for profile in PROFILES:
        found = [estimate_key(audio[path], RATE, profile=profile) for path, _ in tracks]
        score = np.mean(
            [
                mir_eval.key.weighted_score(ref, str(k)) if k.tonic else 0.0
                for k, (_, ref) in zip(found, tracks, strict=True)
            ]
        )
        unknown = sum(k.tonic is None for k in found)
        default = " (default)" if profile == "albrecht" else ""
        print(f"| musictag, {profile} profile{default} | {score:.3f} | {unknown} |")
    essentia = _optional("essentia.standard")
    if essentia is None:
        print("| essentia KeyExtractor | (not installed: pip install essentia) | |")
        return
    loaded = {path: essentia.MonoLoader(filename=str(path), sampleRate=44100)() for path, _ in tracks}
    for profile in ("bgate", "braw", "edma", "edmm", "krumhansl", "temperley", "shaath", "tonictriad", "noland"):
        extractor = essentia.KeyExtractor(profileType=profile)
        keys = [extractor(loaded[path])[:2] for path, _ in tracks]
        score = np.mean(
            [mir_eval.key.weighted_score(ref, f"{k} {m}") for (k, m), (_, ref) in zip(keys, tracks, strict=True)]
        )
        print(f"| essentia KeyExtractor, {profile} | {score:.3f} | 0 |")


def accuracies(estimates: list[float | None], truth: list[float]) -> tuple[float, float]:
    one = [e is not None and abs(e - t) <= 0.04 * t for e, t in zip(estimates, truth, strict=True)]
    two = [
        e is not None and any(abs(e - t * f) <= 0.04 * t * f for f in (1 / 3, 0.5, 1, 2, 3))
        for e, t in zip(estimates, truth, strict=True)
    ]
    return float(np.mean(one)), float(np.mean(two))


def tempo_table(data: Path, per_style: int) -> None:
    from musictag.synthesis.compose import compose
    from musictag.synthesis.render import render
    from musictag.synthesis.styles import STYLES

    tempi = np.linspace(60, 180, per_style).round().astype(int)
    clips, truth = [], []
    for s, genre in enumerate(sorted(STYLES)):
        for bpm in tempi:
            style = dataclasses.replace(STYLES[genre], tempo={"fixed": (int(bpm), int(bpm))})
            arrangement = compose(genre, f"a {genre} song", seed=10_000 + 97 * s + int(bpm), duration=20.0, style=style)
            clips.append(render(arrangement, sample_rate=RATE, seed=int(bpm) + 1))
            truth.append(float(bpm))
    print(f"\n## Tempo: {len(clips)} rendered clips of 20 s, {len(STYLES)} styles, {tempi[0]}-{tempi[-1]} BPM\n")
    print("| method | Accuracy1 | Accuracy2 |\n|---|---|---|")
    mine = [estimate_tempo(clip, RATE).bpm for clip in clips]
    print("| musictag | {:.3f} | {:.3f} |".format(*accuracies(mine, truth)))
    essentia = _optional("essentia.standard")
    if essentia is not None:
        import soxr

        extractor = essentia.RhythmExtractor2013(method="multifeature")
        theirs = [float(extractor(soxr.resample(c, RATE, 44100).astype(np.float32))[0]) for c in clips]
        print("| essentia RhythmExtractor2013 | {:.3f} | {:.3f} |".format(*accuracies(theirs, truth)))
    librosa = _optional("librosa")
    if librosa is not None:
        theirs = [float(librosa.feature.tempo(y=c, sr=RATE)[0]) for c in clips]
        print("| librosa feature.tempo | {:.3f} | {:.3f} |".format(*accuracies(theirs, truth)))
    if essentia is not None:
        tracks = sorted((data / "gtzan_mini").glob("*/*.flac"))
        mine = [estimate_tempo(load(t), RATE).bpm for t in tracks]
        extractor = essentia.RhythmExtractor2013(method="multifeature")
        theirs = [float(extractor(essentia.MonoLoader(filename=str(t), sampleRate=44100)())[0]) for t in tracks]
        one, two = accuracies(mine, theirs)
        print(
            f"\nReal gtzan_mini tracks ({len(tracks)}): musictag within 4 % of essentia's tempo on {one:.2f}, "
            f"up to octave errors on {two:.2f} (no ground truth: agreement only)"
        )


def speed(data: Path) -> None:
    track = str(sorted((data / "gtzan_mini").glob("rock/*.flac"))[0])
    musictag = [sys.executable, "-m", "musictag", "tag", track, "-q"]

    def whole(extra: list[str]) -> float:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(musictag + extra, check=True, capture_output=True)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)

    plain, described = whole([]), whole(["--describe", "key,bpm"])
    print(
        f"\n## Speed: `musictag tag` of one 30-s track, whole process (median of 5)\n\n"
        f"plain {plain:.2f} s, with --describe key,bpm {described:.2f} s: +{100 * (described / plain - 1):.0f} %"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the shared data folder (gtzan_mini/ and annotations/gtzan_key/)")
    parser.add_argument("--clips-per-style", type=int, default=13, help="tempi per style, 60-180 BPM (default 13)")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    key_table(args.data)
    tempo_table(args.data, args.clips_per_style)
    if not args.skip_speed:
        speed(args.data)
    print(f"\n(key names: {' '.join(PITCH_CLASSES)})")


if __name__ == "__main__":
    main()
