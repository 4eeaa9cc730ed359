"""The ``musictag`` command: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import contextlib
import sys

from musictag import __version__
from musictag.cli import data, embed, evaluate, experiment, features, models, synth, tag, train
from musictag.errors import MusictagError
from musictag.utils.progress import report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musictag", description="Music auto-tagging and genre classification.")
    parser.add_argument("--version", action="version", version=f"musictag {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (tag, embed, models, data, features, train, evaluate, synth, experiment):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except MusictagError as exc:
        report(f"musictag: error: {exc}")
        return 1
    except KeyboardInterrupt:
        report("musictag: interrupted")
        return 130
    except BrokenPipeError:  # e.g. `musictag tag ... | head`
        with contextlib.suppress(Exception):
            sys.stdout.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
