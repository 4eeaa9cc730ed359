"""``musictag library write-tags|clear-tags|query|similar|stats|export``: use a library database.

The database is made and kept up to date by ``musictag tag DIR -r --db FILE``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from musictag.cli.options import non_negative_int, positive_int

if TYPE_CHECKING:
    from musictag.library.service import LibraryService, WritePlan


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help: str, run) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help, description=help)
        sub.add_argument("--db", required=True, metavar="FILE", help="the library database (made by 'tag --db')")
        sub.set_defaults(run=run)
        return sub

    write = action("write-tags", "write the stored tags into the audio files (mutagen)", run_write_tags)
    write.add_argument("--model", metavar="NAME", help="whose tags to write (default: the model with most results)")
    chosen = write.add_mutually_exclusive_group()
    chosen.add_argument("--top-k", type=non_negative_int, metavar="K", help="the K best tags, 0 = all (default 5)")
    chosen.add_argument(
        "--threshold", type=_unit_interval, metavar="T", help="instead of --top-k: every tag scoring at least T"
    )
    write.add_argument("--genre", metavar="MODEL", help="also set the genre field to this (genre) model's best class")
    write.add_argument("--dry-run", action="store_true", help="say what would be written; change nothing")
    write.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    clear = action("clear-tags", "remove musictag's own fields from the files (nothing else)", run_clear_tags)
    clear.add_argument("--dry-run", action="store_true", help="say what would be removed; change nothing")
    clear.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    query = action("query", "files whose tag scores match a condition", run_query)
    query.add_argument("condition", help='e.g. "guitar > 0.4 and vocal < 0.2" (and, or, not, parentheses)')
    query.add_argument("--model", metavar="NAME", help="whose scores (default: the model with most results)")
    query.add_argument(
        "--format",
        choices=("table", "paths", "m3u", "csv", "json"),
        default="table",
        help="table (default), paths (one per line), m3u (a playlist), csv or json",
    )
    query.add_argument("--limit", type=non_negative_int, default=0, metavar="N", help="at most N files (0 = all)")
    similar = action("similar", "the files that sound most alike (cosine of stored embeddings)", run_similar)
    similar.add_argument("file", help="a file of the library, or any audio file (embedded now)")
    similar.add_argument("-n", type=positive_int, default=10, metavar="N", help="how many (default 10)")
    similar.add_argument("--model", metavar="NAME", help="whose embeddings (default: the model with most results)")
    similar.add_argument("--format", choices=("table", "paths", "json"), default="table", help="output format")
    action("stats", "what the library holds: files by status, models, the most common tags", run_stats)
    export = action("export", "every file with its scores, as CSV or JSON", run_export)
    export.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json")
    export.add_argument("--model", metavar="NAME", help="whose scores (default: the model with most results)")
    export.add_argument("--output", "-o", metavar="FILE", help="write here (atomically) instead of stdout")


def _service(args: argparse.Namespace) -> LibraryService:
    from musictag.library.service import LibraryService

    return LibraryService(args.db)


# -- tags in files --------------------------------------------------------------------------
def run_write_tags(args: argparse.Namespace) -> int:
    service = _service(args)
    top_k = 5 if args.top_k is None else args.top_k
    _, plans = service.write_plans(model=args.model, top_k=top_k, threshold=args.threshold, genre_model=args.genre)
    return rewrite_files(service, plans, quiet=args.quiet, dry_run=args.dry_run)


def run_clear_tags(args: argparse.Namespace) -> int:
    service = _service(args)
    return rewrite_files(service, service.clear_plans(), quiet=args.quiet, dry_run=args.dry_run, verb="cleared")


def rewrite_files(
    service: LibraryService, plans: list[WritePlan], *, quiet: bool, dry_run: bool = False, verb: str = "tagged"
) -> int:
    """Write (or with ``dry_run``, show) each plan's fields, one line per file skipped; the exit code
    is 1 when some file was skipped."""
    from musictag.utils.progress import counted, progress, report

    if dry_run:
        for plan in plans:
            shown = "; ".join(plan.fields.get("MUSICTAG_SCORES", [])) or "(musictag's fields removed)"
            print(f"{plan.path}: {shown}" + (f"; genre {plan.genre}" if plan.genre else ""))
        return 0
    with progress(len(plans), quiet=quiet) as bar:

        def done(plan: WritePlan, error: str | None) -> None:
            bar.update(1)
            if error:
                report(f"musictag: {error}")

        failed = service.rewrite(plans, on_file=done)
    report(f"musictag: {counted(len(plans) - failed, 'file')} {verb}, {failed} skipped")
    return 1 if failed else 0


# -- finding music ----------------------------------------------------------------------------
def run_query(args: argparse.Namespace) -> int:
    found = _service(args).find(query=args.condition, model=args.model, limit=args.limit or None, sort=True)
    rows = [{"path": t.path, **{tag: round(t.score(tag), 4) for tag in found.tags}} for t in found.tracks]
    _print_rows(rows, args.format, found.tags)
    return 0


def run_similar(args: argparse.Namespace) -> int:
    _, found = _service(args).similar(path=args.file, n=args.n, model=args.model)
    rows = [{"path": track.path, "similarity": round(similarity, 4)} for track, similarity in found]
    _print_rows(rows, args.format, ["similarity"])
    return 0


def _print_rows(rows: list[dict], fmt: str, columns: list[str]) -> None:
    """Rows of paths and scores on stdout; a playlist or path list holds each file's real bytes, the other
    formats show a name that is not valid UTF-8 with escapes (as ``tag`` does)."""
    import csv
    import json

    from musictag.cli.formats import Escaped

    if fmt in ("paths", "m3u"):
        lines = (["#EXTM3U"] if fmt == "m3u" else []) + [row["path"] for row in rows]
        sys.stdout.flush()
        raw = getattr(sys.stdout, "buffer", None)
        for line in lines:
            if raw is not None:
                raw.write(os.fsencode(line) + b"\n")
            else:
                print(line.encode("utf-8", "backslashreplace").decode("utf-8"))
        if raw is not None:
            raw.flush()
        return
    stream = Escaped(sys.stdout)
    if fmt == "json":
        stream.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(stream, ["path", *columns], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        if rows:
            stream.write("  ".join(f"{c[:12]:>12}" for c in columns) + "  path\n")
        for row in rows:
            stream.write("  ".join(f"{row[c]:12.3f}" for c in columns) + f"  {row['path']}\n")
        if not rows:
            print("(no files match)", file=sys.stderr)
    stream.flush()


# -- overview ------------------------------------------------------------------------------------
def run_stats(args: argparse.Namespace) -> int:
    from musictag.utils.progress import counted

    stats = _service(args).stats()
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(stats.counts.items()))
    print(f"{args.db}: {counted(sum(stats.counts.values()), 'file')}: {statuses}; {stats.hours:.1f} h tagged")
    for model in stats.models:
        print(f"\nmodel {model.model.name} ({model.model.folder}): {counted(len(model.paths), 'file')}")
        if model.paths:
            print("  tag                  mean score   top tag of")
        for tag, mean, best in model.common_tags():
            print(f"  {tag:<20} {mean:10.3f}   {counted(best, 'file')}")
    if stats.failures:
        print(f"\nfailed: {counted(len(stats.failures), 'file')}, e.g.:")
        for _, error in stats.failures[:5]:
            print(f"  {error}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    import contextlib
    import csv
    import json

    from musictag.cli.formats import Escaped
    from musictag.utils.atomic import atomic_open

    model, rows = _service(args).export_rows(args.model)
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(atomic_open(args.output, encoding="utf-8")) if args.output else sys.stdout
        stream = Escaped(stream)
        if args.format == "json":
            records = [
                {
                    "path": path,
                    "duration": duration,
                    "model": model.name,
                    "tags": {tag: round(float(score), 6) for tag, score in zip(model.labels, row, strict=True)},
                }
                for path, duration, row in rows
            ]
            stream.write(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
        else:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["path", "duration", *model.labels])
            for path, duration, row in rows:
                writer.writerow([path, duration, *(f"{v:.6f}" for v in row)])
    return 0
