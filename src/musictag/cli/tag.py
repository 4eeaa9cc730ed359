"""``musictag tag``: tag audio files and folders."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from musictag.cli.formats import FORMATS
from musictag.cli.options import (
    check_output,
    descriptor_list,
    model_name,
    non_negative_int,
    positive_int,
    positive_seconds,
)
from musictag.models.config import LAYERS
from musictag.pretrained.catalog import PRETRAINED

if TYPE_CHECKING:
    from musictag.inference.base import TaggerBackend


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs a tagging model over files."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    parser.add_argument(
        "--model",
        default="mtt-musicnn",
        type=model_name,
        help=f"{', '.join(PRETRAINED)}, a model folder, or a .onnx file from 'models export' (default mtt-musicnn)",
    )
    parser.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        help="onnx: onnxruntime without torch, the default for the pretrained models on the CPU (their graph "
        "is written once from the weights and cached) and for a .onnx file; torch: the default for a model "
        "folder, a --device other than cpu and --ray",
    )
    parser.add_argument(
        "--weights",
        metavar="WHEEL|DIR",
        help="pretrained weights offline: the musicnn wheel, its unpacked folder, or a cache folder",
    )
    parser.add_argument(
        "--hop",
        type=positive_seconds,
        metavar="SECONDS",
        help="seconds between patch starts (default: the patch length, no overlap)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="patches per forward pass (default 16 on onnxruntime, 4 on torch); more uses more memory (about "
        "14 MB a patch for musicnn); torch uses at most 64",
    )
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:N, mps")
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    parser.add_argument(
        "--workers",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="onnxruntime (the default backend): tag N files at once, each on one thread (default 0: two "
        "per CPU core, at most 8); torch: decode files and compute their log-mels in N processes while "
        "this one runs the model (default 0: all in this process)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="every warning on a line of its own (default: one line per kind of warning)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser)
    parser.add_argument(
        "--top-k", type=non_negative_int, default=5, metavar="K", help="tags per file, 0 = all (default 5)"
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write results here (atomically; Ctrl-C keeps the files done) instead of stdout",
    )
    parser.add_argument("--timeline", action="store_true", help="include per-patch scores with start/end times")
    parser.add_argument(
        "--describe",
        metavar="LIST",
        type=descriptor_list,
        default=(),
        help="also estimate these, comma-separated: key (global key and confidence; 'unknown' for clips "
        "under 4 s or atonal) and bpm (tempo and confidence; 'unknown' under 5 s or without a beat). "
        "Measured: key 0.70 MIREX weighted on 42 annotated GTZAN tracks (essentia's best profile 0.64), "
        "tempo within 4%% up to octave errors on 0.94 of 130 rendered clips (benchmarks/key_tempo.py)",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run on a Ray cluster (pip install 'musictag[ray]'): at ADDRESS (host:port), or a "
        "local one started here; --workers sets the number of model actors (default: its CPUs)",
    )
    library = parser.add_argument_group("library database (see 'musictag library')")
    library.add_argument(
        "--db",
        metavar="FILE",
        help="record results in this SQLite library instead of printing them; a rerun tags only "
        "new or changed files and marks files that are gone",
    )
    library.add_argument(
        "--write-tags",
        action="store_true",
        help="with --db: also write the --top-k tags of the files tagged now into them (see 'library write-tags')",
    )
    library.add_argument(
        "--embed",
        metavar="LAYER",
        choices=LAYERS,
        help=f"with --db: also store this layer's mean activation (float16), for 'library similar' "
        f"({', '.join(LAYERS)})",
    )
    parser.set_defaults(run=run)


def run_files(args: argparse.Namespace, files: list[str], results: Iterator, *, total: int | None = None) -> Iterator:
    """Pass ``results`` through with a progress bar, reporting each failure on one line; warnings of one
    kind (e.g. 400 clips shorter than a patch) are summed up in one line at the end unless ``--verbose``.
    ``total``: the files of the run where ``files`` are only those still to do (a library's rerun)."""
    from musictag.inference.checks import warning_kind
    from musictag.inference.results import FileError
    from musictag.utils.progress import counted, progress, report

    failures = 0
    warned: dict[str, list[str]] = {}
    with progress(len(files), quiet=args.quiet) as bar:
        for result in results:
            if isinstance(result, FileError):
                failures += 1
                report(f"musictag: {result.error}")
            else:
                for warning in result.warnings:
                    if getattr(args, "verbose", False):
                        report(f"musictag: warning: {warning}")
                    warned.setdefault(warning_kind(warning), []).append(warning)
            bar.update(1)
            yield result
    if not getattr(args, "verbose", False):
        for kind, warnings in warned.items():
            if len(warnings) == 1:
                report(f"musictag: warning: {warnings[0]}")
            else:
                report(f"musictag: warning: {counted(len(warnings), 'file')}: {kind} (--verbose lists them)")
    if failures:
        report(f"musictag: {failures} of {counted(total or len(files), 'file')} failed")


def found_files(args: argparse.Namespace) -> list[str]:
    """The files named on the command line, folders expanded."""
    from musictag.audio.discover import find_audio, nothing_found
    from musictag.errors import MusictagError

    files = find_audio(args.paths, recursive=args.recursive)
    if not files:
        raise MusictagError(nothing_found(args.paths, recursive=args.recursive))
    if getattr(args, "output", None):
        check_output(args.output, inputs=files)
    return files


def tagger_options(args: argparse.Namespace) -> dict:
    """What the options say about running the model (:func:`musictag.inference.factory.open_tagger`)."""
    ray = getattr(args, "ray", None)
    return {
        "backend": args.backend,
        "device": args.device,
        "weights": args.weights,
        "hop": args.hop,
        "batch_size": args.batch_size,
        "ray": ray,
        "actors": (args.workers or None) if ray else None,
    }


def files_and_tagger(args: argparse.Namespace) -> tuple[list[str], TaggerBackend]:
    """The files named on the command line (folders expanded) and the model to run on them."""
    from musictag.inference.factory import choose_backend

    choose_backend(args.model, args.backend, device=args.device, ray=getattr(args, "ray", None))  # said before any work
    files = found_files(args)
    from musictag.inference.factory import open_tagger

    return files, open_tagger(args.model, **tagger_options(args))


def run(args: argparse.Namespace) -> int:
    if args.db:
        return run_library(args)
    if args.embed or args.write_tags:
        from musictag.errors import ParameterError

        raise ParameterError(f"{'--embed' if args.embed else '--write-tags'} works on a library: add --db FILE")
    from musictag.cli.formats import ResultWriter
    from musictag.describe import described
    from musictag.inference.results import FileError
    from musictag.utils.atomic import atomic_open
    from musictag.utils.progress import report

    files, tagger = files_and_tagger(args)
    failed, done = False, 0
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(atomic_open(args.output, encoding="utf-8")) if args.output else sys.stdout
        writer = ResultWriter(stream, args.format, top_k=args.top_k, timeline=args.timeline, describe=args.describe)
        results = described(tagger.tag_many(files, workers=args.workers), args.describe)
        try:
            for result in run_files(args, files, results):
                failed |= isinstance(result, FileError)
                writer.write(result)
                done += 1
        except KeyboardInterrupt:  # what is done is kept: the output is closed and committed as usual
            writer.close()
            report(
                f"musictag: interrupted after {done} of {len(files)} files"
                + (f"; their results are in {args.output}" if args.output else "")
            )
            return 130
        writer.close()
    return 1 if failed else 0


def run_library(args: argparse.Namespace) -> int:
    """Tag into a library database: only what is new or changed, committed in batches."""
    from musictag.errors import ParameterError
    from musictag.library.database import Library
    from musictag.library.job import LibraryJob
    from musictag.utils.progress import report

    if args.output:
        raise ParameterError("--db writes results to the database; leave out --output (use 'library export')")
    if args.format != "table":
        raise ParameterError(
            f"--db writes results to the database; leave out --format (use 'library export "
            f"--format {args.format}' or 'library query --format {args.format}')"
        )
    from musictag.inference.factory import choose_backend, model_files

    backend = choose_backend(args.model, args.backend, device=args.device, ray=args.ray)
    files = found_files(args)
    model, config = model_files(args.model, backend=backend, weights=args.weights)
    roots = [path for path in args.paths if Path(path).is_dir()]
    with Library(args.db) as library:
        library.add_roots(args.paths)
        job = LibraryJob(library, model, config, files, roots=roots, embed=args.embed, timeline=args.timeline)
        results = job.run(workers=args.workers, **tagger_options(args))
        tagged = []  # (path, best tags) of this run, for --write-tags
        try:
            for result in run_files(args, job.paths(), results, total=len(files)):
                if args.write_tags and hasattr(result, "scores"):
                    tagged.append((result.path, result.top(args.top_k or len(config.labels))))
        except KeyboardInterrupt:
            report(f"musictag: interrupted; what was committed is kept in {args.db}: rerun to go on")
            return 130
        report(f"musictag: {args.db}: {job.line()}")
        undescribed = describe_into(args, library, files) if args.describe else 0
        ids = {path: row.id for path, row in library.files().items()} if tagged else {}
    if tagged:
        from musictag.cli.library import rewrite_files
        from musictag.library.filetags import tag_fields
        from musictag.library.service import LibraryService, WritePlan

        plans = [WritePlan(ids[path], path, tag_fields(top, config.name)) for path, top in tagged]
        return max(rewrite_files(LibraryService(args.db), plans, quiet=args.quiet), int(job.failed + undescribed > 0))
    return 1 if job.failed or undescribed else 0


def describe_into(args: argparse.Namespace, library, files: list[str]) -> int:
    """Key and tempo (``--describe``) of the library's tagged ``files`` that lack them; the failures."""
    from musictag.inference.results import FileError
    from musictag.library.job import describe_library
    from musictag.utils.progress import counted, progress, report

    described = failed = 0
    with progress(len(files), quiet=args.quiet) as bar:
        for _, found in describe_library(library, args.describe, paths=files):
            if isinstance(found, FileError):
                failed += 1
                report(f"musictag: {found.error}")
            else:
                described += 1
            bar.update(1)
    report(f"musictag: {args.db}: {counted(described, 'file')} described ({', '.join(args.describe)}), {failed} failed")
    return failed
