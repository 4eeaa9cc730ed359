"""MkDocs hook: the command reference is generated from the parsers themselves, so it cannot drift."""

from __future__ import annotations

import argparse
import os

MARKER = "<!-- command reference -->"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_reference() -> str:
    """Every command's and sub-command's ``--help``, as Markdown sections."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix it for a stable page
    from musictag.cli.main import build_parser

    parser = build_parser()
    parts = ["## musictag", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, command in _subparsers(parser).items():
        parts += [f"## musictag {name}", "", "```text", command.format_help().rstrip(), "```", ""]
        for action, sub in _subparsers(command).items():
            parts += [f"### musictag {name} {action}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, **_) -> str:
    """Replace the marker of ``cli.md`` with the generated reference."""
    return markdown.replace(MARKER, command_reference()) if MARKER in markdown else markdown
