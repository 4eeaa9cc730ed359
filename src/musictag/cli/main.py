"""The ``musictag`` command: parses, dispatches, prints. Each command's engine is imported only
when that command runs, so ``musictag --help`` and every ``musictag COMMAND --help`` start at once."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys

#: Command modules in the order ``--help`` lists them; each has ``add_parser(subparsers)``.
COMMANDS = ("tag", "library", "embed", "models", "data", "features", "train", "evaluate", "synth", "experiment",
            "explain", "concepts", "serve")


def build_parser() -> argparse.ArgumentParser:
    from musictag import __version__

    parser = argparse.ArgumentParser(prog="musictag", description="Music auto-tagging and genre classification.")
    parser.add_argument("--version", action="version", version=f"musictag {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"musictag.cli.{name}").add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _parse_and_run(argv)
    except KeyboardInterrupt:  # also while a command is still importing its engine
        sys.stderr.write("\nmusictag: interrupted\n")
        return 130


def _parse_and_run(argv: list[str] | None) -> int:
    from musictag.errors import MusictagError
    from musictag.utils.progress import report

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except MusictagError as exc:
        report(f"musictag: error: {exc}")
        return 1
    except BrokenPipeError:  # e.g. `musictag tag ... | head`
        with contextlib.suppress(Exception):
            sys.stdout.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
