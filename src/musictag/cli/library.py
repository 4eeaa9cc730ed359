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
    from musictag.library.database import Library, ModelRow


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text}")
    return value


def add_parser(commands) -> None:
    parser = commands.add_parser("library", help="query, export and write tags of a library database")
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
    chosen.add_argument("--threshold", type=_unit_interval, metavar="T",
                        help="instead of --top-k: every tag scoring at least T")  # fmt: skip
    write.add_argument("--genre", metavar="MODEL",
                       help="also set the genre field to this (genre) model's best class")  # fmt: skip
    write.add_argument("--dry-run", action="store_true", help="say what would be written; change nothing")
    write.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    clear = action("clear-tags", "remove musictag's own fields from the files (nothing else)", run_clear_tags)
    clear.add_argument("--dry-run", action="store_true", help="say what would be removed; change nothing")
    clear.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    query = action("query", "files whose tag scores match a condition", run_query)
    query.add_argument("condition", help="e.g. \"guitar > 0.4 and vocal < 0.2\" (and, or, not, parentheses)")
    query.add_argument("--model", metavar="NAME", help="whose scores (default: the model with most results)")
    query.add_argument("--format", choices=("table", "paths", "m3u", "csv", "json"), default="table",
                       help="table (default), paths (one per line), m3u (a playlist), csv or json")  # fmt: skip
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


def _open(args: argparse.Namespace) -> Library:
    from musictag.library.database import Library

    return Library(args.db, create=False)


# -- tags in files --------------------------------------------------------------------------
def run_write_tags(args: argparse.Namespace) -> int:
    from musictag.library.filetags import tag_fields

    with _open(args) as library:
        model = library.pick_model(args.model)
        genre_of = _genres(library, args.genre) if args.genre else {}
        ids, paths, scores = library.score_matrix(model)
        plans = []
        for file_id, path, row in zip(ids, paths, scores, strict=True):
            top = _chosen(model.labels, row, top_k=5 if args.top_k is None else args.top_k, threshold=args.threshold)
            plans.append((file_id, path, tag_fields(top, model.name), genre_of.get(path)))
        return rewrite_files(library, plans, quiet=args.quiet, dry_run=args.dry_run)


def run_clear_tags(args: argparse.Namespace) -> int:
    from musictag.library.database import TAGGED

    with _open(args) as library:
        rows = [row for row in library.files().values() if row.status == TAGGED]
        plans = [(row.id, row.path, {}, None) for row in sorted(rows, key=lambda r: r.path)]
        return rewrite_files(library, plans, quiet=args.quiet, dry_run=args.dry_run, verb="cleared")


def _chosen(labels: list[str], row, *, top_k: int, threshold: float | None) -> list[tuple[str, float]]:
    order = sorted(range(len(labels)), key=lambda i: -row[i])
    if threshold is not None:
        return [(labels[i], float(row[i])) for i in order if row[i] >= threshold]
    return [(labels[i], float(row[i])) for i in order[: top_k or len(labels)]]


def _genres(library: Library, name: str) -> dict[str, str]:
    model = library.pick_model(name)
    _, paths, scores = library.score_matrix(model)
    return {path: model.labels[int(row.argmax())] for path, row in zip(paths, scores, strict=True)}


def rewrite_files(library: Library, plans: list, *, quiet: bool, dry_run: bool = False, verb: str = "tagged") -> int:
    """Write (or with ``dry_run``, show) each file's fields: ``plans`` holds (file id, path, fields, genre).
    A file whose size, mtime or content is no longer what was tagged is skipped (its tags would describe
    other music). The database learns each rewritten file's new size and mtime, so the next ``tag --db``
    does not take it for changed music. Returns the exit code (1 when some file was skipped)."""
    from musictag.errors import failure_line
    from musictag.library.filetags import write_tags
    from musictag.utils.hashing import content_hash
    from musictag.utils.progress import progress, report

    failed = done = 0
    with progress(len(plans), quiet=quiet or dry_run) as bar:
        for file_id, path, fields, genre in plans:
            bar.update(1)
            if dry_run:
                shown = "; ".join(fields.get("MUSICTAG_SCORES", [])) or "(musictag's fields removed)"
                print(f"{path}: {shown}" + (f"; genre {genre}" if genre else ""))
                continue
            try:
                if changed_since_tagging(library, file_id, path):
                    failed += 1
                    report(f"musictag: {path}: changed since tagging; run tag --db")
                    continue
                write_tags(path, fields, genre=genre)
            except Exception as exc:  # one file's problem never stops the others
                failed += 1
                report(f"musictag: {failure_line(path, exc)}")
                continue
            stat = os.stat(path)
            library.update_stat(file_id, size=stat.st_size, mtime_ns=stat.st_mtime_ns, hash=content_hash(path))
            library.commit()
            done += 1
    if not dry_run:
        report(f"musictag: {done} files {verb}, {failed} skipped")
    return 1 if failed else 0


def changed_since_tagging(library: Library, file_id: int, path: str) -> bool:
    """Whether the file at ``path`` differs (size, mtime or content) from what was tagged as ``file_id``."""
    from musictag.utils.hashing import content_hash

    row, stat = library.file(file_id), os.stat(path)
    if row is None or (row.size, row.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        return True
    return row.hash is not None and content_hash(path) != row.hash


# -- finding music ----------------------------------------------------------------------------
def run_query(args: argparse.Namespace) -> int:
    from musictag.library.query import Query

    with _open(args) as library:
        model = library.pick_model(args.model)
        query = Query(args.condition, model.labels)
        _, paths, scores = library.score_matrix(model)
    hits = list(query(scores).nonzero()[0]) if len(paths) else []
    first = model.labels.index(query.tags[0])
    hits.sort(key=lambda i: -scores[i, first])
    if args.limit:
        hits = hits[: args.limit]
    columns = list(dict.fromkeys(query.tags))
    rows = [{"path": paths[i], **{tag: round(float(scores[i, model.labels.index(tag)]), 4) for tag in columns}}
            for i in hits]  # fmt: skip
    _print_rows(rows, args.format, columns)
    return 0


def run_similar(args: argparse.Namespace) -> int:
    import itertools

    from musictag.errors import MusictagError
    from musictag.library.similar import nearest

    with _open(args) as library:
        model = library.pick_model(args.model)
        paths, layer, vectors = library.embeddings(model)
    if not paths:
        raise MusictagError(f"{args.db}: no embeddings stored for {model.name}; tag with --embed penultimate")
    query = os.path.abspath(args.file)
    vector = vectors[paths.index(query)] if query in paths else _embed_now(args.file, model, layer)
    found = itertools.islice(nearest(paths, vectors, vector, exclude=query), args.n)
    rows = [{"path": path, "similarity": round(similarity, 4)} for path, similarity in found]
    _print_rows(rows, args.format, ["similarity"])
    return 0


def _embed_now(path: str, model: ModelRow, layer: str):
    """A file outside the library, embedded with the model the library's embeddings came from."""
    from musictag.errors import MusictagError
    from musictag.utils.hashing import model_fingerprint

    if not os.path.exists(model.folder) or model_fingerprint(model.folder) != model.fingerprint:
        raise MusictagError(f"{path}: not in the library, and {model.name}'s weights are no longer at {model.folder} "
                            "to embed it")  # fmt: skip
    from musictag.inference.factory import open_tagger

    return open_tagger(model.folder).embed(path, layer=layer).embedding


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
    import numpy as np

    from musictag.utils.progress import counted

    with _open(args) as library:
        counts = library.status_counts()
        hours = library.total_duration() / 3600
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        print(f"{args.db}: {sum(counts.values())} files: {statuses}; {hours:.1f} h tagged")
        for model in library.models():
            _, paths, scores = library.score_matrix(model)
            print(f"\nmodel {model.name} ({model.folder}): {len(paths)} files")
            if not len(paths):
                continue
            best = np.bincount(scores.argmax(axis=1), minlength=len(model.labels))
            means = scores.mean(axis=0)
            print("  tag                  mean score   top tag of")
            for i in np.argsort(-means)[:10]:
                print(f"  {model.labels[i]:<20} {means[i]:10.3f}   {best[i]} files")
        failures = library.failures()
        if failures:
            print(f"\nfailed: {counted(len(failures), 'file')}, e.g.:")
            for _, error in failures[:5]:
                print(f"  {error}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    import contextlib
    import csv
    import json

    from musictag.utils.atomic import atomic_open

    with _open(args) as library:
        model = library.pick_model(args.model)
        _, paths, scores = library.score_matrix(model)
        durations = library.durations()
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(atomic_open(args.output, encoding="utf-8")) if args.output else sys.stdout
        if args.format == "json":
            rows = [{"path": path, "duration": durations[path], "model": model.name,
                     "tags": {tag: round(float(score), 6) for tag, score in zip(model.labels, row, strict=True)}}
                    for path, row in zip(paths, scores, strict=True)]  # fmt: skip
            json.dump(rows, stream, indent=1, ensure_ascii=False)
            stream.write("\n")
        else:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["path", "duration", *model.labels])
            for path, row in zip(paths, scores, strict=True):
                writer.writerow([path, durations[path], *(f"{v:.6f}" for v in row)])
    return 0
