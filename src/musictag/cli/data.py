"""``musictag data info|download``: what a data set holds, and fetching the public ones."""

from __future__ import annotations

import argparse
import json

from musictag.data.download import ARCHIVES

_SHOWN_PROBLEMS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser("info", help="counts per label and split, missing or unreadable files")
    info.add_argument("spec", metavar="SPEC", help="data set, e.g. gtzan:DIR?split=fault-filtered&lists=DIR")
    info.add_argument("--items", action="store_true", help="also list every item with its split and group")
    info.add_argument("--check", action="store_true", help="decode every file to find unreadable ones")
    info.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    info.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    info.set_defaults(run=run_info)
    download = actions.add_parser("download", help="fetch, verify and unpack GTZAN or MagnaTagATune")
    download.add_argument("name", choices=sorted(ARCHIVES))
    download.add_argument("--dest", required=True, metavar="DIR", help="where to put the archives and the data")
    download.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    download.set_defaults(run=run_download)


def _unreadable(items, quiet: bool) -> list[str]:
    from musictag.audio.stream import AudioStream
    from musictag.errors import failure_line
    from musictag.utils.progress import progress

    problems = []
    with progress(len(items), quiet=quiet, desc="checking") as bar:
        for item in items:
            try:
                for _ in AudioStream(item.path, 16000):
                    pass
            except Exception as exc:  # every unreadable file is reported, none stops the check
                problems.append(f"{failure_line(item.path, exc)} (left out)")
            bar.update(1)
    return problems


def run_info(args: argparse.Namespace) -> int:
    from musictag.data.load import open_dataset

    dataset = open_dataset(args.spec)
    summary = dataset.summary()
    if args.check:
        summary["problems"] += _unreadable(dataset.items, args.quiet)
    if args.items:
        summary["item_list"] = [
            {"id": i.id, "split": i.split, "group": i.group, "labels": list(i.labels), "path": str(i.path)}
            for i in dataset.items
        ]
    if args.format == "json":
        print(json.dumps(summary, indent=2))
        return 0
    splits = list(summary["splits"])
    print(
        f"{summary['name']}: {summary['items']} items, {summary['labels']} labels ({summary['task']}), "
        f"{summary['groups']} groups"
    )
    print(f"  read as {summary['layout']}")
    width = max([len(label) for label in summary["per_label"]] + [5])
    print(f"  {'label':<{width}}  " + "  ".join(f"{s:>7}" for s in splits))
    for label, counts in summary["per_label"].items():
        print(f"  {label:<{width}}  " + "  ".join(f"{counts[s]:>7}" for s in splits))
    print(f"  {'total':<{width}}  " + "  ".join(f"{summary['splits'][s]:>7}" for s in splits))
    for item in summary.get("item_list", []):
        print(f"  {item['id']}  {item['split'] or '-'}  {item['group'] or '-'}")
    problems = summary["problems"]
    if problems:
        print(f"{len(problems)} problems:")
        for line in problems[:_SHOWN_PROBLEMS]:
            print(f"  {line}")
        if len(problems) > _SHOWN_PROBLEMS:
            print(f"  ... and {len(problems) - _SHOWN_PROBLEMS} more (--format json lists all)")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from musictag.data.download import download_dataset

    path = download_dataset(args.name, args.dest, quiet=args.quiet)
    print(f"{args.name} is ready; use it as: {args.name}:{path}")
    return 0
