"""``musictag explain``: where in time and frequency a model's score comes from, per file;
``musictag explain benchmark``: every method scored against procedural ground truth."""

from __future__ import annotations

import argparse

from musictag.cli.options import positive_int, positive_seconds, torch_model_name
from musictag.explain.validation import DEFAULT_METHOD, METHODS, VALIDATED, method_help, method_note


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Explain a model's score per file, or run 'musictag explain benchmark "
        "--out DIR' to score every method against procedural ground truth."
    )
    parser.add_argument("paths", nargs="+", metavar="AUDIO", help="audio files (or the word 'benchmark')")
    parser.add_argument(
        "--model",
        default="mtt-musicnn",
        type=torch_model_name,
        help="a pretrained model or model folder (not an exported .onnx file)",
    )
    parser.add_argument("--target", metavar="LABEL", help="the label or tag to explain (default: the file's best)")
    parser.add_argument(
        "--method",
        choices=METHODS,
        help=f"{method_help()}. benchmark --real: score this method alone (default: the validated ones)",
    )
    parser.add_argument(
        "--unvalidated",
        action="store_true",
        help="allow a method that has not reached 0.9 segment ROC-AUC on real recordings (see --method)",
    )
    parser.add_argument(
        "--quantity",
        choices=("file-score", "patch-log-odds"),
        default="file-score",
        help="what is explained: the file's score (default; each 3-s patch's exact share of it, spread within "
        "the patch by the method, every segment on one scale), or each patch's own log-odds, raw from the method",
    )
    parser.add_argument(
        "--real",
        metavar="SPEC",
        help="benchmark: score the methods on A-B-A splices of this data set's real tracks instead (e.g. gtzan:DIR)",
    )
    parser.add_argument("--splices", type=positive_int, default=50, metavar="N", help="benchmark --real: splices (50)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="benchmark --real: 10 splices, 2 of them for the sanity check (a few minutes)",
    )
    parser.add_argument(
        "--segment",
        type=positive_seconds,
        default=0.5,
        metavar="SECONDS",
        help="length of the time segments relevance is summed over (default 0.5)",
    )
    parser.add_argument("--top-k", type=positive_int, default=3, metavar="K", help="segments to list and play (3)")
    parser.add_argument(
        "--output",
        "--out",
        "-o",
        required=True,
        metavar="DIR",
        help="per file: PNG, JSON, the top segments alone and the track without them (WAV)",
    )
    parser.add_argument(
        "--seeds", type=int, metavar="N", help="benchmark: planted-confound seeds (default 10; 0 skips that part)"
    )
    parser.add_argument(
        "--cases", type=positive_int, metavar="N", help="benchmark: localisation clips per concept (default 3)"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run_real_benchmark(args: argparse.Namespace) -> int:
    from musictag.cli.options import check_output
    from musictag.studies.real_splices import real_benchmark
    from musictag.utils.progress import progress, report

    out = check_output(args.output, folder=True)
    methods = (args.method,) if args.method else VALIDATED
    splices = 10 if args.quick else args.splices
    with progress(splices * len(methods), quiet=args.quiet, unit="step") as bar:
        result = real_benchmark(
            args.model,
            args.real,
            out,
            splices=splices,
            methods=methods,
            quantity=args.quantity,
            sanity_splices=2 if args.quick else 5,
            on_step=lambda: bar.update(1),
        )
    best = max(result["methods"], key=lambda m: result["methods"][m]["auc"][0])
    report(
        f"musictag: {result['splices']} real splices; best: {best} (segment ROC-AUC "
        f"{result['methods'][best]['auc'][0]:.3f}); table in {out / 'real.md'}"
    )
    return 0


def run_benchmark(args: argparse.Namespace) -> int:
    from musictag.cli.options import check_output
    from musictag.studies.explanation_benchmark import LOCALISED, METHODS, run_benchmark
    from musictag.utils.progress import progress, report

    out = check_output(args.output, folder=True)
    args.seeds = 10 if args.seeds is None else args.seeds
    args.cases = args.cases or 3
    steps = len(LOCALISED) * args.cases * len(METHODS) + max(args.seeds, 0)
    with progress(steps, quiet=args.quiet, unit="step") as bar:
        result = run_benchmark(
            out, seeds=max(args.seeds, 0), cases_per_concept=args.cases, on_step=lambda: bar.update(1)
        )
    best = max(METHODS, key=lambda m: result["localisation"][m]["auc"])
    row = result["localisation"][best]
    report(
        f"musictag: best localisation: {best} (segment ROC-AUC {row['auc']:.3f}, pointing game "
        f"{row['pointing']:.2f}); table in {out / 'benchmark.md'}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.paths == ["benchmark"] and not Path("benchmark").exists():
        return run_real_benchmark(args) if args.real else run_benchmark(args)
    from musictag.cli.options import check_output
    from musictag.errors import MusictagError, ParameterError, failure_line
    from musictag.explain.contributions import explain_features
    from musictag.explain.outputs import write_explanation, write_feature_explanation
    from musictag.explain.relevance import explain
    from musictag.inference.factory import open_tagger
    from musictag.utils.paths import unique_stems
    from musictag.utils.progress import progress, report

    for flag, value in (
        ("--seeds", args.seeds),
        ("--cases", args.cases),
        ("--real", args.real),
        ("--quick", args.quick or None),
    ):
        if value is not None:
            raise ParameterError(f"{flag} is an option of 'musictag explain benchmark'; leave it out here")
    method = args.method or DEFAULT_METHOD
    if method not in VALIDATED and not args.unvalidated:
        raise ParameterError(f"{method_note(method)}: add --unvalidated to use it anyway")
    out = check_output(args.output, folder=True)
    stems = unique_stems(args.paths)  # a/song.wav and b/song.wav get outputs of their own
    tagger = open_tagger(args.model, backend="torch")
    if args.target and args.target not in tagger.labels:
        labels = ", ".join(tagger.labels)
        raise ParameterError(f"unknown target {args.target!r} for {tagger.name}; its labels: {labels}")
    failed = 0
    with progress(len(args.paths), quiet=args.quiet) as bar:
        for path, stem in zip(args.paths, stems, strict=True):
            try:
                if tagger.classical is not None:  # handcrafted descriptors: per-feature contributions
                    found = explain_features(tagger, path, target=args.target)
                    written = write_feature_explanation(found, out, top_k=max(args.top_k, 10), stem=stem)
                    best = ", ".join(f"{f['feature']} {f['contribution']:+.3f}" for f in found.top(3))
                    report(f"musictag: {path}: {found.target} {found.score:.2f}; features {best} -> {written['png']}")
                    bar.update(1)
                    continue
                found = explain(
                    tagger,
                    path,
                    target=args.target,
                    method=method,
                    segment_seconds=args.segment,
                    quantity=args.quantity,
                )
                written = write_explanation(found, out, sample_rate=tagger.sample_rate, top_k=args.top_k, stem=stem)
            except MusictagError as exc:
                failed += 1
                report(f"musictag: {failure_line(path, exc)}")
            else:
                spans = ", ".join(f"{s['start']:.1f}-{s['end']:.1f} s" for s in found.top(args.top_k))
                report(
                    f"musictag: {path}: {found.target} {found.score:.2f}, most relevant at {spans} -> {written['png']}"
                )
            bar.update(1)
    return 1 if failed else 0
