"""Content hashes: of a file's bytes (library rows, feature-cache keys) and of a model's weights."""

from __future__ import annotations

import os
from pathlib import Path

_BLOCK = 1 << 20

#: The metadata key of an exported ONNX file that holds the fingerprint of the weights it was made from.
FINGERPRINT_KEY = "musictag_fingerprint"


def content_hash(path: str | os.PathLike) -> str:
    """XXH3-128 of the file's bytes (hex): no cryptographic hash is needed for a key, and this one runs
    at memory speed (0.01 ms for a 30-s FLAC; sha256 took 0.5 ms)."""
    import xxhash

    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def folder_fingerprint(folder: str | os.PathLike) -> str:
    """A hash of every file of a model folder (config and weights), names included."""
    import xxhash

    digest = xxhash.xxh3_128()
    for name in sorted(p.name for p in Path(folder).iterdir() if p.is_file()):
        digest.update(name.encode())
        digest.update(content_hash(Path(folder) / name).encode())
    return digest.hexdigest()


def model_fingerprint(model: str | os.PathLike) -> str:
    """A model's identity: the hash of its folder's config and weights; an ONNX file exported from a
    folder has that folder's fingerprint (stored in it at export), so the same weights through torch or
    onnxruntime are one model, and a retrained model is another."""
    if Path(model).is_dir():
        return folder_fingerprint(model)
    stored = onnx_metadata(model).get(FINGERPRINT_KEY) if str(model).endswith(".onnx") else None
    return stored or content_hash(model)


def onnx_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The custom metadata of an ONNX file (empty where it cannot be read)."""
    try:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception:  # a damaged file: the tagger that opens it says why
        return {}
    return dict(session.get_modelmeta().custom_metadata_map)
