"""A model's layer activations for concept work (TCAV scores and concept location): which layers fire,
the activations of clips and patches, and the held-out split that keeps a concept clip with its twin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from musictag.errors import ParameterError
from musictag.inference.tagger import Tagger


class Logits(torch.nn.Module):
    """A model as captum sees it: log-mel patches in, logits out (layer names under ``model.``)."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.model = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The wrapped model's logits (captum needs a module that returns one tensor)."""
        return self.model.forward_features(x)["logits"]


def probe_class() -> type:
    """captum's concept classifier, fitted with scikit-learn's logistic regression on held-out pairs."""
    from captum.concept._utils.classifier import Classifier

    class Probe(Classifier):
        """A concept activation vector from a layer's activations averaged over time (and frequency): a
        concept may sound anywhere in a patch. The vector, the concept's mean minus the other set's,
        spread evenly back over the positions, is a direction in the layer's own space, where TCAV takes
        its derivatives. (Logistic probes' normals, used before, found fewer of the expected concepts on
        mtt-musicnn: the README has the comparison.)

        ``clips`` maps a concept's id to the clip number of each of its rows; clip ``j`` of a concept
        and clip ``j`` of its matched set are one pair. Accuracy (projection above the midpoint of the
        two means) is measured on a held-out third of the pairs, both clips out together: a clip whose
        twin was fitted as the other class is judged by its arrangement, not by the concept. The vector
        is then taken from every pair."""

        def __init__(self, channels: dict[int, int], clips: dict[int, np.ndarray], seed: int = 0):
            self.channels, self.clips, self.seed, self.positions = channels, clips, seed, 1
            self.labels, self.direction = np.array([]), np.array([])

        def _pool(self, x: torch.Tensor) -> np.ndarray:
            return x.double().reshape(len(x), self.channels[x.shape[1]], -1).mean(-1).numpy()

        def train_and_eval(self, dataloader, **kwargs):
            xs, ys = zip(*[(x, y) for x, y in dataloader], strict=True)
            flat = torch.cat(xs)
            x, y = self._pool(flat), torch.cat(ys).numpy()
            groups = np.concatenate([self.clips[int(batch[0])] for batch in ys])
            self.positions = flat.shape[1] // x.shape[1]
            self.labels = np.unique(y)
            train, test = held_out(y, groups, self.seed)
            direction, middle = self._difference(x[train], y[train])
            accuracy = float((((x[test] @ direction) > middle) == (y[test] == self.labels[1])).mean())
            self.direction, _ = self._difference(x, y)
            return {"accs": torch.tensor(accuracy)}

        def _difference(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
            """The second class's mean minus the first's, and the projection halfway between them."""
            first, second = x[y == self.labels[0]].mean(0), x[y == self.labels[1]].mean(0)
            direction = second - first
            return direction, float((first + second) @ direction / 2)

        def weights(self) -> torch.Tensor:
            w = torch.from_numpy(self.direction).float().repeat_interleave(self.positions)
            return torch.stack([-w, w])

        def classes(self) -> list[int]:
            return [int(c) for c in self.labels]

    return Probe


def held_out(y: np.ndarray, groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices to fit on and a held-out third (half, when a class has only two groups) to test on,
    every group (a clip, or a concept clip and its matched twin) on one side only, both classes on
    each side; with a single group in a class there is nothing to hold out, and both are every row."""
    from sklearn.model_selection import StratifiedGroupKFold

    parts = min(3, *(len(np.unique(groups[y == label])) for label in np.unique(y)))
    if parts >= 2:
        folds = StratifiedGroupKFold(n_splits=parts, shuffle=True, random_state=seed)
        train, test = next(folds.split(np.zeros(len(y)), y, groups))
        if len(np.unique(y[train])) == len(np.unique(y[test])) == 2:
            return train, test
    return np.arange(len(y)), np.arange(len(y))


def firing_layers(tagger: Tagger) -> list[str]:
    """The model's convolution and linear layers that its logits depend on, in the order a forward pass
    runs them (layers the pass skips, such as a fused front end, or whose output is not used, such as a
    transfer backbone's own classifier, are left out), without the output layer."""
    kinds = torch.nn.Conv1d | torch.nn.Conv2d | torch.nn.Linear
    names = [name for name, m in tagger.module.named_modules() if isinstance(m, kinds)]
    x = torch.zeros(1, tagger.patch_frames, tagger.frontend.config.n_mels)
    logits, found = layer_outputs(tagger, names, x, grad=True)
    fired = list(found)  # insertion order: the order the layers ran
    grads = torch.autograd.grad(logits.sum(), [found[n] for n in fired], allow_unused=True)
    used = [name for name, g in zip(fired, grads, strict=True) if g is not None]
    return used[:-1]


def default_layers(tagger: Tagger, count: int = 3) -> list[str]:
    """``count`` layers spread over the deeper two thirds of the network, the last before the output included."""
    layers = firing_layers(tagger)
    deep = layers[len(layers) // 3 :] or layers
    picks = np.linspace(0, len(deep) - 1, min(count, len(deep))).round().astype(int)
    return [deep[i] for i in dict.fromkeys(picks.tolist())]


def check_layers(tagger: Tagger, layers: list[str]) -> list[str]:
    """``layers`` if each names a module of the model; a :class:`ParameterError` listing the names otherwise."""
    names = dict(tagger.module.named_modules())
    for layer in layers:
        if layer not in names or not layer:
            known = ", ".join(firing_layers(tagger))
            raise ParameterError(f"unknown layer {layer!r} for {tagger.name}; layers: {known}")
    return layers


def clip_patches(tagger: Tagger, paths: list[Path]) -> torch.Tensor:
    """Every whole patch of every clip, stacked ``(n, frames, mels)``."""
    return torch.cat([tagger.file_patches(str(p))[0] for p in paths])


def layer_outputs(
    tagger: Tagger, layers: list[str], x: torch.Tensor, *, grad: bool = False
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The model's logits and the output of each of ``layers`` that ran, in the order they ran (kept in
    the graph when ``grad``)."""
    modules = dict(tagger.module.named_modules())
    found: dict[str, torch.Tensor] = {}
    handles = [
        modules[name].register_forward_hook(lambda _m, _i, out, name=name: found.__setitem__(name, out))
        for name in layers
    ]
    try:
        with torch.set_grad_enabled(grad):
            logits = tagger.module.eval().forward_features(x.requires_grad_(grad))["logits"]
    finally:
        for handle in handles:
            handle.remove()
    return logits, found


def patch_activations(tagger: Tagger, layers: list[str], patches: torch.Tensor) -> list[torch.Tensor]:
    """Each layer's flattened activations for ``patches`` (one row per patch), 64 patches per pass."""
    parts = [layer_outputs(tagger, layers, patches[i : i + 64])[1] for i in range(0, len(patches), 64)]
    return [torch.cat([part[name].flatten(1) for part in parts]) for name in layers]


def file_activations(tagger: Tagger, layers: list[str], files: list[Path]) -> dict[Path, list[torch.Tensor]]:
    """Each file's flattened activations per layer (one row per patch)."""
    per_file = [tagger.file_patches(str(f))[0] for f in files]
    flat = patch_activations(tagger, layers, torch.cat(per_file))
    out, start = {}, 0
    for f, p in zip(files, per_file, strict=True):
        out[f] = [layer[start : start + len(p)] for layer in flat]
        start += len(p)
    return out
