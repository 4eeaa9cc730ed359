"""``musictag concepts render|score|locate|benchmark``: concept banks, concept vectors (TCAV), where a
concept sounds in a recording, and how well both work on real recordings."""

from __future__ import annotations

import argparse
import json

from musictag.cli.options import positive_int, positive_seconds, torch_model_name


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    render = actions.add_parser(
        "render",
        help="render a concept bank: clips with a concept, matched clips without it, random sets",
        description="Render procedural clips that contain a "
        "concept and matched clips identical but for it (same arrangement, seed and mix), "
        "random sets and input clips. A rerun keeps the clips already there.",
    )
    render.add_argument("--out", "-o", required=True, metavar="DIR", help="the bank folder")
    render.add_argument(
        "--concepts",
        type=_names,
        metavar="A,B,...",
        help="which concepts (default: the ten standard ones; 'list' shows them all)",
    )
    render.add_argument(
        "--per-concept",
        type=positive_int,
        default=100,
        metavar="N",
        help="clips (and matched clips) per concept (default 100)",
    )
    render.add_argument(
        "--random-sets", type=positive_int, default=200, metavar="N", help="random sets of 5 clips (default 200)"
    )
    render.add_argument("--inputs", type=positive_int, default=40, metavar="N", help="random clips TCAV scores (40)")
    render.add_argument("--seconds", type=positive_seconds, default=4.0, help="clip length (default 4)")
    render.add_argument("--seed", type=int, default=0, help="bank seed (default 0)")
    render.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    render.set_defaults(run=run_render)

    score = actions.add_parser(
        "score",
        help="TCAV: does a concept raise a class or tag's score?",
        description="Per concept, layer and target: the probe's accuracy, the TCAV score "
        "and its p-value against random concept vectors (Welch t-test, Bonferroni). Writes "
        "tcav.json, tcav.md and tcav.png.",
    )
    _model_and_bank(score)
    score.add_argument("--layers", type=_names, metavar="L1,L2", help="module names (default: three deep layers)")
    score.add_argument("--targets", type=_names, metavar="T1,T2", help="classes or tags (default: all)")
    score.add_argument("--inputs", metavar="DIR", help="clips to score (default: the bank's inputs/)")
    score.add_argument("--out", "-o", required=True, metavar="DIR", help="where to write the table and heat map")
    score.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    score.set_defaults(run=run_score)

    locate = actions.add_parser("locate", help="where a concept sounds in a recording (PNG + JSON)")
    locate.add_argument("paths", nargs="+", metavar="AUDIO", help="audio files")
    _model_and_bank(locate)
    locate.add_argument("--concept", required=True, metavar="NAME", help="a concept of the bank")
    locate.add_argument(
        "--layers",
        type=_names,
        metavar="L1,L2",
        help="candidate layers (default: the last hidden layer, which located concepts in real recordings "
        "best); of several, the probe uses the one that separates the bank's clips best",
    )
    locate.add_argument(
        "--hop",
        type=positive_seconds,
        default=0.5,
        metavar="SECONDS",
        help="seconds between patch starts (default 0.5)",
    )
    locate.add_argument("--out", "-o", required=True, metavar="DIR", help="per file: PNG and JSON")
    locate.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    locate.set_defaults(run=run_locate)

    benchmark = actions.add_parser(
        "benchmark",
        help="concepts located and scored on real recordings",
        description="Location ROC-AUC of each stem concept's probe on real tracks with the concept's "
        "stem mixed in over a known span (6-12 dB under the track) and on real A-B-A splices where the "
        "middle carries it; and whether TCAV's expected concept-tag pairs hold with real input clips as "
        "with the bank's rendered ones. Writes real_concepts.md and .json. Needs a data set with GTZAN's "
        "genre names (e.g. gtzan:DIR).",
    )
    _model_and_bank(benchmark)
    benchmark.add_argument("--real", required=True, metavar="SPEC", help="a labelled data set, e.g. gtzan:DIR")
    benchmark.add_argument(
        "--concept-names", type=_names, metavar="A,B", help="stem concepts to locate (default: all in the bank)"
    )
    benchmark.add_argument(
        "--files", type=positive_int, default=10, metavar="N", help="files per concept and kind (10)"
    )
    benchmark.add_argument(
        "--tcav-inputs", type=int, default=40, metavar="N", help="real input clips for TCAV (40; 0: no TCAV)"
    )
    benchmark.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    benchmark.add_argument("--out", "-o", required=True, metavar="DIR", help="where to write the files and tables")
    benchmark.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    benchmark.set_defaults(run=run_benchmark)


def _model_and_bank(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default="mtt-musicnn",
        type=torch_model_name,
        help="a pretrained model or model folder (not an exported .onnx file)",
    )
    parser.add_argument(
        "--concepts",
        required=True,
        metavar="DIR",
        help="a bank from 'concepts render', or a folder of concept folders of your own audio "
        "(with random/ sets and inputs/)",
    )
    parser.add_argument(
        "--random",
        metavar="DIR",
        help="random sets: a folder of folders of audio, or a bank (default: CONCEPTS/random)",
    )


def _bank(args: argparse.Namespace):
    """The concept folder, its random sets replaced by ``--random``'s when given."""
    from musictag.explain.bank import random_sets, read_bank

    bank = read_bank(args.concepts)
    if args.random:
        bank.randoms = random_sets(args.random)
    return bank


def run_render(args: argparse.Namespace) -> int:
    from musictag.cli.options import check_output
    from musictag.explain.bank import CONCEPTS, bank_size, render_bank
    from musictag.utils.progress import progress, report

    if args.concepts == ["list"]:
        for concept in CONCEPTS.values():
            print(f"{concept.name:18s} {concept.description}")
        return 0
    out = check_output(args.out, folder=True)
    total = bank_size(args.concepts, args.per_concept, args.random_sets, 5, args.inputs)
    with progress(total, quiet=args.quiet, unit="clip") as bar:
        manifest = render_bank(
            out,
            concepts=args.concepts,
            per_concept=args.per_concept,
            random_sets=args.random_sets,
            inputs=args.inputs,
            duration=args.seconds,
            seed=args.seed,
            on_clip=lambda: bar.update(1),
        )
    note = json.loads(manifest.read_text()).get("note")
    if note:
        report(f"musictag: note: {note}")
    report(f"musictag: concept bank in {out} ({total} clips; {manifest.name} says what each is)")
    return 0


def run_score(args: argparse.Namespace) -> int:
    from pathlib import Path

    from musictag.cli.options import check_output
    from musictag.explain.bank import audio_files
    from musictag.explain.tcav import heatmap_png, markdown_table, score_concepts
    from musictag.inference.factory import open_tagger
    from musictag.utils.atomic import atomic_open
    from musictag.utils.progress import progress, report

    out = check_output(args.out, folder=True)
    bank = _bank(args)
    inputs = audio_files(Path(args.inputs)) if args.inputs else bank.inputs
    tagger = open_tagger(args.model, backend="torch")
    with progress(len(args.targets or tagger.labels), quiet=args.quiet, unit="target") as bar:
        result = score_concepts(
            tagger,
            bank.concepts,
            bank.randoms,
            inputs,
            matched=bank.matched,
            layers=args.layers,
            targets=args.targets,
            on_step=lambda: bar.update(1),
        )
    with atomic_open(out / "tcav.json") as handle:
        json.dump(result.to_dict(), handle, indent=1)
    table = markdown_table(result)
    with atomic_open(out / "tcav.md") as handle:
        handle.write(table)
    heatmap_png(result, out / "tcav.png")
    found = [f"{c} -> {t}" for t in result.targets for c in result.concepts if result.significant(c, t)]
    report(
        f"musictag: {len(found)} significant positive concept-target pairs"
        f"{': ' + ', '.join(found[:12]) + (' ...' if len(found) > 12 else '') if found else ''}"
    )
    report(f"musictag: table {out / 'tcav.md'}, heat map {out / 'tcav.png'}")
    return 0


def run_locate(args: argparse.Namespace) -> int:
    from musictag.cli.options import check_output
    from musictag.explain.locate import fit_probe
    from musictag.inference.factory import open_tagger
    from musictag.utils.paths import unique_stems
    from musictag.utils.progress import progress

    out = check_output(args.out, folder=True)
    bank = _bank(args)
    tagger = open_tagger(args.model, backend="torch")
    probe = fit_probe(
        tagger,
        args.concept,
        bank=bank.concepts,
        randoms=bank.randoms,
        matched=bank.matched.get(args.concept, []),
        layers=args.layers,
    )
    failed = 0
    with progress(len(args.paths), quiet=args.quiet) as bar:
        for path, name in zip(args.paths, unique_stems(args.paths), strict=True):
            failed += not _locate_one(args, tagger, probe, path, out / f"{name}.{args.concept}")
            bar.update(1)
    return 1 if failed else 0


def _locate_one(args: argparse.Namespace, tagger, probe, path: str, stem) -> bool:
    """Locate the concept in one file and write its JSON and PNG; False (and one line) when it failed."""
    from musictag.errors import MusictagError, failure_line
    from musictag.explain.locate import locate
    from musictag.plots import presence_png
    from musictag.utils.atomic import atomic_open
    from musictag.utils.progress import report

    try:
        found = locate(tagger, path, probe, hop=args.hop)
        with atomic_open(stem.with_suffix(stem.suffix + ".json")) as handle:
            json.dump(found.to_dict(), handle, indent=1)
        title = f"{path}: {args.concept} ({found.layer}, probe accuracy {found.accuracy:.2f})"
        presence_png(
            found.mel,
            tagger.frame_seconds,
            found.starts,
            found.patch_seconds,
            found.probability,
            stem.with_suffix(stem.suffix + ".png"),
            title=title,
        )
    except MusictagError as exc:
        report(f"musictag: {failure_line(path, exc)}")
        return False
    spans = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in found.spans())
    where = f"at {spans}" if spans else "not found (probability below 0.5 throughout)"
    report(f"musictag: {path}: {args.concept} {where} -> {stem}.png")
    return True


def run_benchmark(args: argparse.Namespace) -> int:
    from musictag.cli.options import check_output
    from musictag.explain.bank import read_bank
    from musictag.studies.real_concepts import MIXED_HOSTS, SPLICED, real_concepts
    from musictag.utils.progress import progress, report

    out = check_output(args.out, folder=True)
    names = args.concept_names or [c for c in read_bank(args.concepts).concepts if c in MIXED_HOSTS]
    steps = sum(args.files * (1 + (c in SPLICED)) for c in names)
    with progress(steps, quiet=args.quiet, unit="file") as bar:
        real_concepts(
            args.model,
            args.real,
            args.concepts,
            out,
            concepts=names,
            files=args.files,
            tcav_inputs=args.tcav_inputs,
            seed=args.seed,
            on_step=lambda: bar.update(1),
        )
    report(f"musictag: table {out / 'real_concepts.md'}")
    print((out / "real_concepts.md").read_text(), end="")
    return 0
