"""The check issue 30 describes, as a new user would run it: 9 s classical, 9 s metal, 9 s classical (real
gtzan_mini tracks), `musictag explain --target rock` with each method and quantity; segment ROC-AUC
against the metal span.

    python benchmarks/explain_one_splice.py ../shared/data/gtzan_mini
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from sklearn.metrics import roc_auc_score

from musictag.audio.stream import load
from musictag.explain.relevance import explain
from musictag.inference.factory import open_tagger
from musictag.studies.explanation_benchmark import segment_labels

RATE = 16000
PAIRS = [("classical.00001", "metal.00002"), ("classical.00006", "metal.00005"), ("classical.00008", "metal.00009")]
METHODS = ("integrated-gradients", "gradcam", "occlusion")
QUANTITIES = ("file-score", "patch-log-odds")


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/gtzan_mini")
    tagger = open_tagger("mtt-musicnn", backend="torch")
    scores: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for i, (a, b) in enumerate(PAIRS):
            first = load(str(data / "classical" / f"{a}.flac"), sample_rate=RATE)
            middle = load(str(data / "metal" / f"{b}.flac"), sample_rate=RATE)
            audio = np.concatenate([first[: 9 * RATE], middle[5 * RATE : 14 * RATE], first[12 * RATE : 21 * RATE]])
            path = Path(folder) / f"splice-{i}.wav"
            sf.write(path, audio.astype(np.float32), RATE)
            for method in METHODS:
                for quantity in QUANTITIES:
                    found = explain(tagger, str(path), target="rock", method=method, quantity=quantity)
                    labels = segment_labels(found, [(9.0, 18.0)])
                    scores.setdefault((method, quantity), []).append(roc_auc_score(labels, found.over_time))
    print("| method | " + " | ".join(QUANTITIES) + " |\n|---|---|---|")
    for method in METHODS:
        cells = [" / ".join(f"{auc:.3f}" for auc in scores[(method, q)]) for q in QUANTITIES]
        print(f"| {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
