"""``musictag models list|pull``: the pretrained taggers and their weights."""

from __future__ import annotations

import argparse
import json

from musictag.cli.options import model_name
from musictag.pretrained.catalog import PRETRAINED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="pretrained models, their data, tags and published scores")
    listing.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    listing.set_defaults(run=run_list)
    pull = actions.add_parser("pull", help="fetch and convert the weights of a model (or 'all')")
    pull.add_argument("name", choices=[*PRETRAINED, "all"])
    pull.add_argument(
        "--weights", metavar="DIR", help="read the musicnn wheel or checkpoints from here instead of PyPI"
    )
    pull.set_defaults(run=run_pull)
    export = actions.add_parser("export", help="write a model to ONNX, to tag with --backend onnx (no torch)")
    export.add_argument("model", type=model_name, help=f"{', '.join(PRETRAINED)} or a model folder")
    export.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    export.add_argument("--weights", metavar="WHEEL|DIR", help="pretrained weights offline (as for 'tag')")
    export.set_defaults(run=run_export)


def _published(name: str) -> dict:
    from musictag.models.config import ModelConfig
    from musictag.models.model_folder import is_model_folder
    from musictag.utils.paths import cache_dir

    folder = cache_dir() / "models" / name
    if not is_model_folder(folder):
        return {}
    return ModelConfig(**json.loads((folder / "config.json").read_text())).info.get("published", {})


def run_list(args: argparse.Namespace) -> int:
    rows = []
    for spec in PRETRAINED.values():
        published = _published(spec.name)
        rows.append(
            {
                "name": spec.name,
                "architecture": spec.architecture,
                "dataset": spec.dataset,
                "downloaded": bool(published),
                "roc_auc": published.get("roc_auc"),
                "pr_auc": published.get("pr_auc"),
                "tags": list(spec.labels),
            }
        )
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        scores = (
            f"ROC-AUC {row['roc_auc']:.4f}, PR-AUC {row['pr_auc']:.4f}"
            if row["downloaded"]
            else "published scores shown once pulled"
        )
        print(f"{row['name']:<12} {row['architecture']:<8} trained on {row['dataset']}; {scores}")
        print(f"{'':12} tags: {', '.join(row['tags'])}\n")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from musictag.models.onnx_graph import cached_onnx
    from musictag.pretrained.store import ensure_weights

    names = list(PRETRAINED) if args.name == "all" else [args.name]
    for name in names:
        folder = ensure_weights(name, weights=args.weights)
        print(f"{name}: {folder} (onnxruntime graph: {cached_onnx(folder)})")  # both paths ready offline
    return 0


def run_export(args: argparse.Namespace) -> int:
    from musictag.cli.options import check_output
    from musictag.models.onnx_export import export_onnx
    from musictag.pretrained.store import resolve_model

    check_output(args.onnx)

    out = export_onnx(resolve_model(args.model, weights=args.weights), args.onnx)
    print(f"{args.model} -> {out}")
    return 0
