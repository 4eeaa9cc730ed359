"""The ``musictag`` command: parses, dispatches, prints. Each command's engine is imported only
when that command runs, so ``musictag --help`` and every ``musictag COMMAND --help`` start at once."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.machinery
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import importlib.abc

#: The commands in the order ``--help`` lists them, with their summaries; each is a module of this
#: package with ``add_arguments(parser)``, imported only when its arguments are needed.
COMMANDS = {
    "tag": "tag audio files with a pretrained or trained model",
    "library": "query, export and write tags of a library database",
    "embed": "write per-file (or per-patch) embeddings to an .npz file",
    "models": "list pretrained models or fetch their weights",
    "data": "inspect a data set or download a public one",
    "features": "compute and cache log-mel features",
    "train": "train or cross-validate the model a YAML recipe describes",
    "evaluate": "evaluate a model on a data set split",
    "compare": "one table from several runs or reports",
    "synth": "synthetic training music: prompts, clips, previews",
    "experiment": "multi-model studies",
    "explain": "relevance maps: which moments and bands make a model's score",
    "concepts": "concept banks, concept vectors (TCAV), where a concept sounds",
    "serve": "a web page and an HTTP API to tag files and browse a library",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every command's arguments, or only ``command``'s (the others are
    listed with their summaries, so ``musictag --help`` imports no command's module)."""
    from musictag import __version__

    parser = argparse.ArgumentParser(prog="musictag", description="Music auto-tagging and genre classification.")
    parser.add_argument("--version", action="version", version=f"musictag {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(name, help=summary)
        if command is None or name == command:
            importlib.import_module(f"musictag.cli.{name}").add_arguments(sub)
    return parser


def _command(argv: list[str]) -> str:
    """The command ``argv`` names: its first word that is not an option (``musictag`` has no option
    that takes a value), or "" when there is none."""
    return next((word for word in argv if not word.startswith("-")), "")


def main(argv: list[str] | None = None) -> int:
    if not any(isinstance(finder, _TorchImportHoldsCtrlC) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TorchImportHoldsCtrlC())
    try:
        return _parse_and_run(argv)
    except KeyboardInterrupt:  # also while a command is still importing its engine
        sys.stderr.write("\nmusictag: interrupted\n")
        return 130


def _parse_and_run(argv: list[str] | None) -> int:
    from musictag.errors import MusictagError
    from musictag.utils.progress import report

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_command(argv)).parse_args(argv)
    try:
        return args.run(args)
    except MusictagError as exc:
        report(f"musictag: error: {exc}")
        return exc.exit_code
    except ModuleNotFoundError as exc:  # an extra that is not installed: say which, in one line
        extra = _extra_for(exc.name or "", args)
        if extra is None:
            raise
        report(f"musictag: error: this needs {exc.name}, which is not installed: pip install 'musictag[{extra}]'")
        return 1
    except BrokenPipeError:  # e.g. `musictag tag ... | head`
        with contextlib.suppress(Exception):
            sys.stdout.close()
        return 0


#: The extra that brings each optional library, by the command that needs it (``pip install musictag``
#: alone tags audio with onnxruntime).
_EXTRAS = {
    "explain": "explain",
    "concepts": "explain",
    "synth": "synth",
    "serve": "serve",
    "train": "train",
    "evaluate": "train",
    "experiment": "train",
    "features": "train",
}
_OPTIONAL = {
    "torch",
    "lightning",
    "sklearn",
    "skops",
    "matplotlib",
    "captum",
    "pretty_midi",
    "pedalboard",
    "fastapi",
    "uvicorn",
    "ray",
    "transformers",
    "tinysoundfont",
    "multipart",
}


def _extra_for(module: str, args) -> str | None:
    """The extra to install for a missing ``module`` in this command (None: not an optional library)."""
    top = module.split(".")[0]
    if top not in _OPTIONAL:
        return None
    if top == "ray":
        return "ray"
    if top == "transformers":
        return "ast"
    return _EXTRAS.get(getattr(args, "command", ""), "torch" if top == "torch" else "all")


class _HoldCtrlC:  # a loader; importlib.abc's base classes cost `--help` 25 ms of imports
    """Runs a module's import with Ctrl-C held back until it is done (then raised): an interrupt that
    lands inside torch's native initialisation aborts the process (SIGABRT) instead of raising."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def __getattr__(self, name: str):  # resource readers and the like: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        if threading.current_thread() is not threading.main_thread():
            return self.loader.exec_module(module)
        held = []
        previous = signal.signal(signal.SIGINT, lambda *_: held.append(True))
        try:
            self.loader.exec_module(module)
        finally:
            signal.signal(signal.SIGINT, previous)
        if held:
            raise KeyboardInterrupt


class _TorchImportHoldsCtrlC:  # a meta path finder
    def find_spec(self, name: str, path, target=None):
        if name != "torch":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _HoldCtrlC(spec.loader)
        return spec


if __name__ == "__main__":
    sys.exit(main())
