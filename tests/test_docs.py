"""The documentation runs as written: the README's five-minute tour, on the bundled example."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tour(path: Path) -> str:
    """The bash block of the "A five-minute tour" section of a Markdown file."""
    text = path.read_text()
    section = text[text.index("## A five-minute tour") :]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_the_readme_and_the_docs_home_give_the_same_tour():
    assert tour(ROOT / "README.md") == tour(ROOT / "docs" / "index.md")


def test_every_docs_link_of_the_readme_exists():
    links = re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text())
    assert links and [link for link in links if not (ROOT / link).is_file()] == []


@pytest.mark.slow
def test_the_tour_runs_as_written(pretrained_weights, tmp_path):
    """Every command of the tour, in a fresh folder holding the repository's examples/."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MUSICTAG_CACHE": str(pretrained_weights),
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", tour(ROOT / "README.md")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    timeline = json.loads((tmp_path / "tags.json").read_text())[0]["timeline"]
    assert len(timeline) == 4 and timeline[0]["start"] == 0.0
    assert (tmp_path / "guitar.m3u").read_text().startswith("#EXTM3U")
    assert (tmp_path / "runs" / "demo-genre" / "model" / "config.json").is_file()
    assert (tmp_path / "explained" / "example.png").stat().st_size > 10_000
    assert "Traceback" not in done.stderr
