"""Start-up time of the command line, whole process, best of 5 runs each.

    python benchmarks/startup.py [AUDIO_FILE]

Prints ``musictag --help`` and every ``musictag COMMAND --help``, ``import musictag``, ``import torch``
alone, and (given a file) a cold ``musictag tag FILE``: what tagging costs on top of torch's import.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from musictag.cli.main import COMMANDS

BIN = Path(sys.executable).parent


def best_of(command: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    musictag = str(BIN / "musictag")
    commands = [[musictag, "--help"], *[[musictag, name, "--help"] for name in COMMANDS]]
    commands += [
        [sys.executable, "-c", "import musictag"],
        [sys.executable, "-c", "import musictag.errors"],
        [sys.executable, "-c", "import torch"],
    ]
    if len(sys.argv) > 1:
        commands.append([musictag, "tag", sys.argv[1], "-q"])
    for command in commands:
        shown = " ".join(Path(part).name if part.startswith("/") else part for part in command)
        print(f"{best_of(command):6.3f} s  {shown}")


if __name__ == "__main__":
    main()
