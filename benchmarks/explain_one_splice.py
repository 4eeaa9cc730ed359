"""The check issue 30 describes, as a new user would run it: 9 s classical, 9 s metal, 9 s classical (real
gtzan_mini tracks), `musictag explain --target rock` with each method and quantity; segment ROC-AUC
against the metal span.

    python benchmarks/explain_one_splice.py ../shared/data/gtzan_mini
"""

import sys

import numpy as np
import soundfile as sf
from sklearn.metrics import roc_auc_score

from musictag.audio.stream import load
from musictag.explain.relevance import explain
from musictag.inference.factory import open_tagger
from musictag.studies.explanation_benchmark import segment_labels

t = open_tagger("mtt-musicnn", backend="torch")
D = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/gtzan_mini"
rows = {}
for i, (a, b) in enumerate(
    [("classical.00001", "metal.00002"), ("classical.00006", "metal.00005"), ("classical.00008", "metal.00009")]
):
    A = load(f"{D}/classical/{a}.flac", sample_rate=16000)
    B = load(f"{D}/metal/{b}.flac", sample_rate=16000)
    x = np.concatenate([A[: 9 * 16000], B[5 * 16000 : 14 * 16000], A[12 * 16000 : 21 * 16000]]).astype(np.float32)
    p = f"/tmp/explain-one-splice-{i}.wav"
    sf.write(p, x, 16000)
    for m in ("integrated-gradients", "gradcam", "occlusion"):
        for q in ("file-score", "patch-log-odds"):
            f = explain(t, p, target="rock", method=m, quantity=q)
            auc = roc_auc_score(segment_labels(f, [(9.0, 18.0)]), f.over_time)
            rows.setdefault((m, q), []).append(auc)
for k, v in rows.items():
    print(k, " ".join("%.3f" % x for x in v))
