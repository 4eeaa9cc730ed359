"""``musictag embed``: one embedding per file (or per patch) into an .npz file."""

from __future__ import annotations

import argparse
from pathlib import Path

from musictag.cli.tag import add_model_options, files_and_tagger, run_files
from musictag.models.config import LAYERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser)
    parser.add_argument(
        "--layer", choices=LAYERS, default="penultimate", help="which activations (default penultimate)"
    )
    parser.add_argument("--output", "-o", required=True, metavar="FILE.npz", help="where to write the arrays (.npz)")
    parser.add_argument("--per-patch", action="store_true", help="one row per patch instead of per file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from musictag.errors import ParameterError
    from musictag.inference.results import FileError
    from musictag.utils.atomic import atomic_open, is_special

    suffix = Path(args.output).suffix.lower()
    if suffix not in ("", ".npz") and not is_special(args.output) and not Path(args.output).is_dir():
        raise ParameterError(f"{args.output}: embed writes numpy .npz data, not {suffix}; name the output FILE.npz")
    files, tagger = files_and_tagger(args)
    rows, paths, file_index, starts = [], [], [], []
    failed = False
    for result in run_files(args, files, tagger.embed_many(files, layer=args.layer)):
        if isinstance(result, FileError):
            failed = True
            continue
        if args.per_patch:
            rows.append(result.per_patch)
            file_index.append(np.full(len(result.per_patch), len(paths)))
            starts.append(result.patch_starts)
        else:
            rows.append(result.embedding[None])
        paths.append(result.path)
    arrays = {"paths": np.array(paths, dtype=str), "model": np.array(tagger.name), "layer": np.array(args.layer)}
    arrays["embeddings"] = np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
    if args.per_patch:
        arrays["file_index"] = np.concatenate(file_index) if file_index else np.zeros(0, int)
        arrays["patch_start"] = np.concatenate(starts) if starts else np.zeros(0)
    with atomic_open(args.output, "wb") as handle:  # exactly the name asked for (np.savez would add .npz)
        np.savez(handle, **arrays)
    return 1 if failed else 0
