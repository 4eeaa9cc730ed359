"""Export a model folder to ONNX: the network on log-mel patches, with the model's config inside.

The graph takes ``patches`` ``(batch, patch_frames, n_mels)`` and returns ``logits`` and every
embedding layer the model names. The front end stays outside (numpy,
:mod:`musictag.features.numpy_mel`), so :class:`musictag.inference.onnx_tagger.OnnxTagger` needs
only onnxruntime and numpy. The config (labels, front end, patch length) is stored in the file's
metadata under ``musictag_config``, and the fingerprint of the weights
(:func:`musictag.utils.hashing.model_fingerprint`) under ``musictag_fingerprint``: the same model
through torch or onnxruntime is one model in a library.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from musictag.errors import MusictagError
from musictag.models.classical import ARCHITECTURE as CLASSICAL
from musictag.models.model_folder import load_model_folder
from musictag.models.onnx_graph import OPSET, stamp
from musictag.utils.atomic import atomic_path
from musictag.utils.hashing import model_fingerprint


class _Outputs(torch.nn.Module):
    def __init__(self, module: torch.nn.Module, names: list[str]):
        super().__init__()
        self.module, self.names = module, names

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.module.forward_features(patches)
        return tuple(features[name] for name in self.names)


def export_onnx(folder: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the model of ``folder`` to ``out`` (atomically); returns ``out``."""
    try:
        import onnx
    except ImportError:
        raise MusictagError("exporting to ONNX needs the onnx package: pip install 'musictag[onnx]'") from None

    module, config = load_model_folder(folder)
    if config.architecture == CLASSICAL:
        raise MusictagError(f"{folder}: a classical (scikit-learn) model has no ONNX export here; tag with torch")
    names = ["logits", *getattr(module, "embedding_dims", {})]
    example = torch.zeros(1, config.patch_frames, config.frontend_config().n_mels)
    out = Path(out)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on constants: the graph is checked by the tests
        torch.onnx.export(
            _Outputs(module.eval(), names),
            (example,),
            str(tmp),
            input_names=["patches"],
            output_names=names,
            dynamic_axes={n: {0: "batch"} for n in ["patches", *names]},
            opset_version=OPSET,
            dynamo=False,
        )
        graph = onnx.load(str(tmp))
        stamp(graph, config, model_fingerprint(folder))
        onnx.save(graph, str(tmp))
    return out
