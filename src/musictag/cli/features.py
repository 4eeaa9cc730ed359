"""``musictag features extract``: compute and cache log-mel features for a data set."""

from __future__ import annotations

import argparse

from musictag.cli.options import positive_int
from musictag.features.presets import FRONTENDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    extract = actions.add_parser("extract", help="features for every item of a data set, in parallel, resumable")
    extract.add_argument("spec", metavar="SPEC", help="data set (see 'musictag data info')")
    extract.add_argument(
        "--frontend", default="musicnn", help=f"{', '.join(FRONTENDS)}, or a JSON config file (default musicnn)"
    )
    extract.add_argument("--workers", type=positive_int, default=1, metavar="N", help="worker processes (default 1)")
    extract.add_argument("--cache", metavar="DIR", help="feature cache folder (default <musictag cache>/features)")
    extract.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    extract.set_defaults(run=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    from musictag.data.load import open_dataset
    from musictag.features.cache import FeatureCache
    from musictag.features.presets import frontend_from
    from musictag.utils.progress import report

    dataset = open_dataset(args.spec)
    cache = FeatureCache(args.cache, frontend_from(args.frontend))
    result = cache.extract([item.path for item in dataset.items], workers=args.workers, quiet=args.quiet)
    for _, error in result.failed:
        report(f"musictag: {error}")
    print(f"{result.computed} computed, {result.reused} already cached, {len(result.failed)} failed -> {cache.root}")
    return 1 if result.failed else 0
