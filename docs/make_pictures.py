"""Make the documentation's pictures from the bundled example clip (run from the repository root):

    .venv/bin/python docs/make_pictures.py

It writes docs/img/taggram.png (mtt-musicnn's taggram of examples/example.flac), docs/img/explanation.png
(occlusion relevance for its best tag) and docs/img/tcav.png (a TCAV heat map from a small concept bank;
2-3 minutes). The web page's screenshot comes from the browser test:
MUSICTAG_SCREENSHOTS=docs/img .venv/bin/python -m pytest tests/test_serve.py -k browser.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from musictag import open_tagger
from musictag.plots import taggram_png

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
EXAMPLE = ROOT / "examples" / "example.flac"


def main() -> None:
    """Write the three pictures into docs/img."""
    IMG.mkdir(parents=True, exist_ok=True)
    result = open_tagger("mtt-musicnn").tag(EXAMPLE)
    taggram_png(
        result.taggram,
        result.labels,
        result.patch_starts,
        result.patch_seconds,
        IMG / "taggram.png",
        title="mtt-musicnn on examples/example.flac",
    )
    musictag = [sys.executable, "-m", "musictag"]
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        explain = ["explain", str(EXAMPLE), "--target", "guitar", "-o", str(out / "explained"), "-q"]
        subprocess.run([*musictag, *explain], check=True)
        (IMG / "explanation.png").write_bytes((out / "explained" / "example.png").read_bytes())
        bank = out / "bank"
        render = ["concepts", "render", "--out", str(bank), "--concepts", "drums,piano,singing_voice,distorted_guitar"]
        subprocess.run(
            [*musictag, *render, "--per-concept", "20", "--random-sets", "30", "--inputs", "20", "-q"], check=True
        )
        targets = "drums,piano,vocal,guitar,rock,classical,techno,beat"
        score = ["concepts", "score", "--concepts", str(bank), "--targets", targets, "--out", str(out / "tcav"), "-q"]
        subprocess.run([*musictag, *score], check=True)
        (IMG / "tcav.png").write_bytes((out / "tcav" / "tcav.png").read_bytes())


if __name__ == "__main__":
    main()
