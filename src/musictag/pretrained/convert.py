"""Map musicnn's TensorFlow variables onto the PyTorch modules of :mod:`musictag.models`."""

from __future__ import annotations

import numpy as np

from musictag.errors import MusictagError


def _conv2d(kernel: np.ndarray) -> np.ndarray:
    return kernel.transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)


def _conv1d_from_full_width(kernel: np.ndarray) -> np.ndarray:
    # musicnn's mid end is a conv2d whose kernel spans all channels: (7, C, 1, out) -> (out, C, 7)
    return kernel[:, :, 0, :].transpose(2, 1, 0)


def _bn(tf_name: str, torch_name: str) -> list[tuple[str, str, object]]:
    return [
        (f"{tf_name}/gamma", f"{torch_name}.weight", None),
        (f"{tf_name}/beta", f"{torch_name}.bias", None),
        (f"{tf_name}/moving_mean", f"{torch_name}.running_mean", None),
        (f"{tf_name}/moving_variance", f"{torch_name}.running_var", None),
    ]


def _layer(tf_name: str, torch_name: str, transform) -> list[tuple[str, str, object]]:
    return [(f"{tf_name}/kernel", f"{torch_name}.weight", transform), (f"{tf_name}/bias", f"{torch_name}.bias", None)]


def _bn_name(i: int) -> str:
    return "batch_normalization" + (f"_{i}" if i else "")


def _conv_name(i: int) -> str:
    return "conv2d" + (f"_{i}" if i else "")


def musicnn_mapping() -> list[tuple[str, str, object]]:
    """(TensorFlow name, torch name, transform) for :class:`~musictag.models.musicnn.MusiCNN`.

    TensorFlow numbers layers in creation order: input BN, the two timbral and three
    temporal blocks, three mid-end blocks, then the back end.
    """
    blocks = ["timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2", "midend.0", "midend.1", "midend.2"]
    rows = _bn(_bn_name(0), "input_bn")
    for i, block in enumerate(blocks):
        transform = _conv1d_from_full_width if block.startswith("midend") else _conv2d
        rows += _layer(_conv_name(i), f"{block}.conv", transform) + _bn(_bn_name(i + 1), f"{block}.bn")
    rows += _bn(_bn_name(9), "backend_bn") + _layer("dense", "penultimate", np.transpose)
    rows += _bn(_bn_name(10), "penultimate_bn") + _layer("dense_1", "classifier", np.transpose)
    return rows


def vgg_mapping() -> list[tuple[str, str, object]]:
    """(TensorFlow name, torch name, transform) for :class:`~musictag.models.vgg.MusicnnVGG`."""
    rows = _bn(_bn_name(0), "input_bn")
    for i in range(5):
        rows += _layer(f"{i + 1}CNN", f"convs.{i}", _conv2d) + _bn(_bn_name(i + 1), f"bns.{i}")
    return rows + _layer("dense", "classifier", np.transpose)


def convert(tf_vars: dict[str, np.ndarray], mapping: list[tuple[str, str, object]]) -> dict[str, np.ndarray]:
    """Build a state dict (numpy, torch's names and layouts) from TensorFlow variables; every variable must
    be used. No torch needed: the weights become a model folder and an ONNX graph without it."""
    missing = [tf for tf, _, _ in mapping if tf not in tf_vars]
    if missing:
        raise MusictagError(f"checkpoint lacks {len(missing)} expected variables, e.g. {missing[0]}")
    unused = set(tf_vars) - {tf for tf, _, _ in mapping}
    if unused:
        raise MusictagError(f"checkpoint has {len(unused)} unexpected variables, e.g. {sorted(unused)[0]}")
    state = {}
    for tf_name, torch_name, transform in mapping:
        value = tf_vars[tf_name]
        if transform is not None:
            value = transform(value)
        state[torch_name] = np.ascontiguousarray(value, dtype=np.float32)
    return state
