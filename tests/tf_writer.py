"""Write TensorFlow tensor-bundle checkpoints (test helper for the reader and the converter)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_DTYPE_ENUM = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3, np.dtype("int64"): 9}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    return _varint(number << 3) + _varint(value)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<II", 0, 1)  # one restart point at offset 0


def write_checkpoint(prefix: str, tensors: dict[str, np.ndarray]) -> None:
    """Write ``prefix.index`` and ``prefix.data-00000-of-00001`` holding ``tensors``."""
    data, entries = bytearray(), []
    for name in sorted(tensors):
        array = np.array(tensors[name], order="C")  # (ascontiguousarray would make scalars 1-d)
        dims = b"".join(_field(2, _field(1, d)) for d in array.shape)
        proto = _field(1, _DTYPE_ENUM[array.dtype]) + _field(2, dims) + _field(4, len(data)) + _field(5, array.nbytes)
        entries.append((name.encode(), proto))
        data += array.astype(array.dtype.newbyteorder("<")).tobytes()
    Path(prefix + ".data-00000-of-00001").write_bytes(bytes(data))
    header = (b"", _field(1, 1))  # BundleHeaderProto: num_shards = 1
    table = bytearray()
    data_block = _block([header, *entries])
    table += data_block + b"\x00" + b"\x00" * 4  # trailer: no compression, crc unchecked
    index_block = _block([(entries[-1][0] + b"\xff", _varint(0) + _varint(len(data_block)))])
    index_offset = len(table)
    table += index_block + b"\x00" * 5
    meta_offset = len(table)
    meta_block = _block([])
    table += meta_block + b"\x00" * 5
    footer = _varint(meta_offset) + _varint(len(meta_block)) + _varint(index_offset) + _varint(len(index_block))
    table += footer.ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    Path(prefix + ".index").write_bytes(bytes(table))


def to_tf_variables(state: dict, mapping: list[tuple[str, str, object]]) -> dict[str, np.ndarray]:
    """Invert musictag's TF -> torch mapping: torch state dict -> TensorFlow variables."""
    out = {}
    for tf_name, torch_name, transform in mapping:
        value = state[torch_name].detach().numpy()
        if transform is not None:
            name = getattr(transform, "__name__", "")
            if name == "_conv2d":
                value = value.transpose(2, 3, 1, 0)
            elif name == "_conv1d_from_full_width":
                value = value.transpose(2, 1, 0)[:, :, None, :]
            else:  # np.transpose of a dense kernel
                value = value.T
        out[tf_name] = np.ascontiguousarray(value, dtype=np.float32)
    return out
