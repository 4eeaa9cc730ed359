"""Training throughput of every neural zoo model on this CPU, and whether data loading keeps up.

    python benchmarks/train_throughput.py ../shared/data/gtzan_mini [--steps 6] [--batch-size 16]

For each model: the front end's features are extracted into a scratch cache (once), then
``--steps`` training steps (forward, backward, Adam) run on random crops drawn through the
same ``CropSet`` + ``DataLoader`` the trainer uses. Prints training samples per second, the
time spent waiting for data against the time in the step, and the data loader's own rate.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from musictag.data.load import open_dataset
from musictag.features.cache import FeatureCache
from musictag.training.datasets import CropSet, cached_features
from musictag.training.neural import NeuralSettings, plan_model
from musictag.training.task import TaggingTask

# name: neural settings (the recipes' models at their published sizes)
MODELS = {
    "musicnn (from scratch)": dict(architecture="musicnn", frontend="musicnn", patch_seconds=3.0),
    "musicnn (front end frozen)": dict(
        architecture="musicnn", frontend="musicnn", patch_seconds=3.0, freeze=["input_bn", "timbral", "temporal"]
    ),
    "shortchunk-cnn": dict(architecture="shortchunk-cnn", frontend="shortchunk", patch_seconds=3.69),
    "shortchunk-res": dict(architecture="shortchunk-res", frontend="shortchunk", patch_seconds=3.69),
    "multiscale-cnn": dict(architecture="multiscale-cnn", frontend="multiscale", patch_seconds=29.1),
    "vggish (dense 1024)": dict(architecture="vggish", frontend="vggish", patch_seconds=3.96, model={"dense": 1024}),
}


def measure(name: str, values: dict, dataset, cache_root: str, *, steps: int, batch_size: int) -> dict:
    settings = NeuralSettings(**values, feature_workers=2)
    plan = plan_model(settings, dataset.vocabulary)
    items, arrays = cached_features(dataset.items, FeatureCache(cache_root, plan.frontend), workers=2)
    crops = CropSet(arrays, dataset.targets(items), frames=plan.patch_frames, crops_per_track=8)
    loader = iter(DataLoader(crops, batch_size=batch_size, shuffle=True))
    task = TaggingTask(
        plan.model,
        task=dataset.task,
        labels=dataset.vocabulary,
        frontend=plan.frontend,
        optimiser={"lr": 1e-3},
        freeze=plan.freeze,
    )
    optimiser = torch.optim.Adam([p for p in plan.model.parameters() if p.requires_grad], lr=1e-3)
    data_time = step_time = 0.0
    for step in range(steps + 1):  # the first step warms up and is not counted
        start = time.perf_counter()
        x, y = next(loader)
        fetched = time.perf_counter()
        loss = F.cross_entropy(task.model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        done = time.perf_counter()
        if step:
            data_time += fetched - start
            step_time += done - fetched
    samples = steps * batch_size
    return {
        "model": name,
        "samples_s": samples / (data_time + step_time),
        "data_ms": 1000 * data_time / steps,
        "step_ms": 1000 * step_time / steps,
        "loader_samples_s": samples / data_time,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="data set SPEC (e.g. ../shared/data/gtzan_mini)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS), metavar="NAME")
    args = parser.parse_args()
    torch.manual_seed(0)
    dataset = open_dataset(args.data)
    print(f"{len(dataset)} tracks, batch {args.batch_size}, {args.steps} steps, {torch.get_num_threads()} threads")
    print(f"{'model':28} {'samples/s':>10} {'data ms':>9} {'step ms':>9} {'data share':>11} {'loader samples/s':>17}")
    with tempfile.TemporaryDirectory() as cache_root:
        for name in args.models:
            row = measure(name, MODELS[name], dataset, cache_root, steps=args.steps, batch_size=args.batch_size)
            share = row["data_ms"] / (row["data_ms"] + row["step_ms"])
            print(
                f"{row['model']:28} {row['samples_s']:10.1f} {row['data_ms']:9.1f} {row['step_ms']:9.1f} "
                f"{share:10.1%} {row['loader_samples_s']:17.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
