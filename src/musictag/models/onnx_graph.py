"""musicnn's networks written straight to ONNX from their weights, without torch.

The pretrained taggers run on onnxruntime by default: their TensorFlow checkpoints are read without
TensorFlow (:mod:`musictag.pretrained.tf_bundle`), mapped to torch's names and layouts
(:mod:`musictag.pretrained.convert`), and here laid out as an ONNX graph with the ``onnx`` package's
helpers, operator for operator what :class:`~musictag.models.musicnn.MusiCNN` and
:class:`~musictag.models.vgg.MusicnnVGG` compute at inference (dropout off, batch norm with its
running statistics). The graph takes ``patches`` ``(batch, patch_frames, n_mels)`` and returns
``logits`` and the embedding layers, as :func:`musictag.models.onnx_export.export_onnx` writes them.

A front-end block (conv, ReLU, batch norm, then the maximum over frequency) takes the maximum right
after the convolution: ReLU and batch norm are monotonic per channel, so with the filters of channels
whose batch-norm scale is negative negated (and the result negated back), the maximum of the
convolution gives the same values while ReLU and batch norm run on ``(batch, C, T)`` instead of
``(batch, C, T, F)`` (as the torch model does at inference).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from musictag.errors import MusictagError
from musictag.models.config import VGG_POOLS, ModelConfig

if TYPE_CHECKING:
    import onnx

#: The metadata keys of an exported graph (as :mod:`musictag.models.onnx_export` writes them).
CONFIG_KEY = "musictag_config"
OPSET = 17
SUPPORTED = ("musicnn", "vgg")
#: tf.compat.v1.layers.batch_normalization's epsilon, musicnn's (a config's ``bn_eps`` overrides it)
TF_BN_EPS = 1e-3
GRAPH_VERSION = 2  # part of the cached file's name: a new graph layout is written anew


@functools.cache
def channel_block() -> int:
    """The multiple of onnxruntime's blocked (NCHWc) layout on this CPU, which a front-end block's filter
    count is padded to: 8 with AVX2 alone, else 16 (AVX-512's, and a multiple of the others). With 8,
    the temporal blocks' 51 filters become 56 rather than 64: the model ran 3.5 % faster on AVX2 (two
    threads sharing a one-thread session, 20 tracks' patches, median of 8 interleaved rounds)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return 16
    return 8 if "avx2" in flags and "avx512f" not in flags else 16


class _Graph:
    """Nodes and constant weights of a graph being written."""

    def __init__(self, channel_block: int) -> None:
        from onnx import helper

        self.helper = helper
        self.channel_block = channel_block
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: np.ndarray, hint: str = "w") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], hint: str | None = None, **attrs) -> str:
        out = self.name(hint or kind.lower())
        self.nodes.append(self.helper.make_node(kind, inputs, [out], **attrs))
        return out

    def batch_norm(self, x: str, state: dict, prefix: str, eps: float) -> str:
        """Inference batch norm over axis 1 (running statistics)."""
        params = [self.const(state[f"{prefix}.{key}"]) for key in ("weight", "bias", "running_mean", "running_var")]
        return self.op("BatchNormalization", [x, *params], epsilon=eps)

    def conv(self, x: str, weight: np.ndarray, bias: np.ndarray, **attrs) -> str:
        return self.op("Conv", [x, self.const(weight), self.const(bias)], **attrs)

    def gemm(self, x: str, state: dict, prefix: str) -> str:
        """``x @ W.T + b`` of a torch ``Linear``'s weights."""
        return self.op(
            "Gemm", [x, self.const(state[f"{prefix}.weight"]), self.const(state[f"{prefix}.bias"])], transB=1
        )

    def pad_time(self, x: str, before: int, after: int) -> str:
        """Zeros before and after on axis 2 of ``(B, C, T, F)``."""
        pads = self.const(np.array([0, 0, before, 0, 0, 0, after, 0], np.int64), "pads")
        return self.op("Pad", [x, pads])

    def reduce(self, kind: str, x: str, axis: int) -> str:
        return self.op(kind, [x], axes=[axis], keepdims=0)  # opset 17: the axes are an attribute


def _front_block(g: _Graph, x: str, state: dict, prefix: str, eps: float, n_mels: int) -> str:
    """conv -> ReLU -> batch norm -> max over frequency, with the maximum taken first (see the module).

    The filters are padded with zero filters to a multiple of the graph's channel block and the maximum is a
    ``MaxPool``: both keep onnxruntime's blocked (NCHWc) layout up to the pooled map, so only that small
    map is re-laid rather than the whole convolution output (11-17 % of the model's time otherwise)."""
    weight, bias = state[f"{prefix}.conv.weight"], state[f"{prefix}.conv.bias"]
    sign = np.where(state[f"{prefix}.bn.weight"] < 0, -1.0, 1.0).astype(np.float32)
    filters, bands = weight.shape[0], n_mels - weight.shape[3] + 1
    padded = -(-filters // g.channel_block) * g.channel_block
    weights = np.zeros((padded, *weight.shape[1:]), np.float32)
    weights[:filters] = weight * sign[:, None, None, None]
    biases = np.zeros(padded, np.float32)
    biases[:filters] = bias * sign
    pooled = g.op("MaxPool", [g.conv(x, weights, biases)], kernel_shape=[1, bands])
    ints = [g.const(np.array([v], np.int64), "index") for v in (0, filters, 1, 3)]
    extreme = g.op("Squeeze", [g.op("Slice", [pooled, ints[0], ints[1], ints[2]]), ints[3]])
    signed = g.op("Mul", [extreme, g.const(sign[:, None])])
    return g.batch_norm(g.op("Relu", [signed]), state, f"{prefix}.bn", eps)


def _musicnn(g: _Graph, x: str, config: ModelConfig, state: dict, eps: float) -> dict[str, str]:
    if config.model.get("input_norm", "none") != "none":
        raise MusictagError(f"{config.name}: input_norm {config.model['input_norm']!r} is not written to ONNX here")
    n_mels = config.frontend_config().n_mels
    h = g.batch_norm(g.op("Unsqueeze", [x, g.const(np.array([1], np.int64), "axes")]), state, "input_bn", eps)
    timbral = [_front_block(g, g.pad_time(h, 3, 3), state, f"timbral.{i}", eps, n_mels) for i in range(2)]
    temporal = []
    for i in range(3):
        k = state[f"temporal.{i}.conv.weight"].shape[2]
        before = (k - 1) // 2  # TensorFlow's 'same' puts the extra pad at the end
        temporal.append(_front_block(g, g.pad_time(h, before, k - 1 - before), state, f"temporal.{i}", eps, n_mels))
    front = g.op("Concat", [*timbral, *temporal], axis=1)  # (B, 561, T)
    maps, previous = [front], None
    for i in range(3):
        w, b = state[f"midend.{i}.conv.weight"], state[f"midend.{i}.conv.bias"]
        block = g.batch_norm(g.op("Relu", [g.conv(maps[-1], w, b, pads=[3, 3])]), state, f"midend.{i}.bn", eps)
        previous = block if previous is None else g.op("Add", [block, previous])
        maps.append(previous)
    stacked = g.op("Concat", maps, axis=1)  # (B, 753, T)
    max_pool, mean_pool = g.reduce("ReduceMax", stacked, axis=2), g.reduce("ReduceMean", stacked, axis=2)
    axis2 = g.const(np.array([2], np.int64), "axes")
    pairs = g.op("Concat", [g.op("Unsqueeze", [max_pool, axis2]), g.op("Unsqueeze", [mean_pool, axis2])], axis=2)
    pooled = g.op("Flatten", [pairs], axis=1)  # TF order: max and mean interleaved per channel
    hidden = g.batch_norm(
        g.op("Relu", [g.gemm(g.batch_norm(pooled, state, "backend_bn", eps), state, "penultimate")]),
        state,
        "penultimate_bn",
        eps,
    )
    logits = g.gemm(hidden, state, "classifier")
    return {"logits": logits, "penultimate": hidden, "mean_pool": mean_pool, "max_pool": max_pool}


def _vgg(g: _Graph, x: str, config: ModelConfig, state: dict, eps: float) -> dict[str, str]:
    h = g.batch_norm(g.op("Unsqueeze", [x, g.const(np.array([1], np.int64), "axes")]), state, "input_bn", eps)
    for i, (kernel, stride) in enumerate(VGG_POOLS):
        conv = g.conv(h, state[f"convs.{i}.weight"], state[f"convs.{i}.bias"], pads=[1, 1, 1, 1])
        h = g.op(
            "MaxPool",
            [g.batch_norm(g.op("Relu", [conv]), state, f"bns.{i}", eps)],
            kernel_shape=list(kernel),
            strides=list(stride),
        )
    flat = g.op("Flatten", [g.op("Transpose", [h], perm=[0, 2, 3, 1])], axis=1)  # TensorFlow flattens channels-last
    return {"logits": g.gemm(flat, state, "classifier"), "penultimate": flat}


def stamp(model: onnx.ModelProto, config: ModelConfig, fingerprint: str) -> None:
    """Write the model's config and the fingerprint of its weights into an ONNX model's metadata (what
    :class:`~musictag.inference.onnx_tagger.OnnxTagger` and a library read back)."""
    from musictag.utils.hashing import FINGERPRINT_KEY

    for key, value in ((CONFIG_KEY, json.dumps(asdict(config))), (FINGERPRINT_KEY, fingerprint)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def build_onnx(
    config: ModelConfig, state: dict[str, np.ndarray], *, fingerprint: str = "", channel_block: int = 16
) -> onnx.ModelProto:
    """The ONNX model (``onnx.ModelProto``) of a musicnn or VGG model with weights ``state`` (numpy,
    torch's names), its config (and ``fingerprint``) in the metadata; front-end filters padded to a
    multiple of ``channel_block`` (see :func:`channel_block`)."""
    from onnx import TensorProto, checker, helper

    if config.architecture not in SUPPORTED:
        raise MusictagError(f"{config.name}: a {config.architecture} model is exported with torch (models export)")
    eps = float(config.model.get("bn_eps", TF_BN_EPS))
    g = _Graph(channel_block)
    outputs = (_musicnn if config.architecture == "musicnn" else _vgg)(g, "patches", config, state, eps)
    n_mels = config.frontend_config().n_mels
    inputs = [helper.make_tensor_value_info("patches", TensorProto.FLOAT, ["batch", config.patch_frames, n_mels])]
    widths = {"logits": state["classifier.weight"].shape[0], "penultimate": state["classifier.weight"].shape[1]}
    if config.architecture == "musicnn":
        widths["mean_pool"] = widths["max_pool"] = state["backend_bn.weight"].shape[0] // 2
    named = []
    for name, value in outputs.items():  # rename each output's node result to the layer's name
        g.nodes.append(helper.make_node("Identity", [value], [name]))
        named.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", int(widths[name])]))
    graph = helper.make_graph(g.nodes, config.name, inputs, named, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="musictag")
    model.ir_version = 8  # read by every onnxruntime since 1.14
    stamp(model, config, fingerprint)
    checker.check_model(model)
    return model


def onnx_from_folder(folder: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the ONNX graph of the musicnn or VGG model folder ``folder`` to ``out`` (atomically), without
    torch; the graph carries the folder's fingerprint, so a library sees one model either way."""
    import onnx
    from safetensors.numpy import load_file

    from musictag.models.model_folder import WEIGHTS_NAME, read_config
    from musictag.utils.atomic import atomic_path
    from musictag.utils.hashing import model_fingerprint

    config = read_config(folder)
    state = load_file(str(Path(folder) / WEIGHTS_NAME))
    model = build_onnx(config, state, fingerprint=model_fingerprint(folder), channel_block=channel_block())
    with atomic_path(out) as tmp:
        onnx.save(model, str(tmp))
    return Path(out)


def cached_onnx(folder: str | os.PathLike) -> Path:
    """The ONNX graph of a musicnn or VGG model folder, written once into the cache and keyed by the
    fingerprint of the folder's config and weights (a retrained model gets a graph of its own)."""
    from musictag.utils.hashing import model_fingerprint
    from musictag.utils.paths import cache_dir

    out = cache_dir() / "onnx" / f"{model_fingerprint(folder)}-v{GRAPH_VERSION}-c{channel_block()}.onnx"
    if not out.is_file():
        onnx_from_folder(folder, out)
    return out
