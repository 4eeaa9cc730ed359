"""Read TensorFlow checkpoints (the "tensor bundle" format) without TensorFlow.

A checkpoint ``PREFIX`` is two files:

* ``PREFIX.index``: a LevelDB-style sorted table. Its keys are variable names; each
  value is a serialised ``BundleEntryProto`` (dtype, shape, shard, offset, size).
  The empty key holds the ``BundleHeaderProto``.
* ``PREFIX.data-00000-of-0000N``: the raw little-endian tensor bytes.

Only what musicnn's checkpoints need is supported: uncompressed tables, numeric
dtypes, unsliced tensors. Anything else raises :class:`CheckpointFormatError`.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musictag.errors import MusictagError

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5  # 1 byte compression type + 4 bytes crc

# tensorflow/core/framework/types.proto
_DTYPES = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    4: np.dtype("u1"),
    5: np.dtype("<i2"),
    6: np.dtype("i1"),
    9: np.dtype("<i8"),
    10: np.dtype("?"),
    19: np.dtype("<f2"),
}


class CheckpointFormatError(MusictagError):
    """A file is not a TensorFlow checkpoint this reader understands."""


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor lives in the data shard(s)."""

    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointFormatError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """Decode a protobuf message into (field number, value) pairs, in order."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise CheckpointFormatError(f"unsupported protobuf wire type {wire}")
        fields.append((number, value))
    return fields


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for number, value in _proto_fields(buf):
        if number == 2:  # TensorShapeProto.dim
            size = next((v for n, v in _proto_fields(value) if n == 1), 0)
            dims.append(int(size))
        elif number == 3 and value:  # unknown_rank
            raise CheckpointFormatError("tensor of unknown rank")
    return tuple(dims)


def _parse_entry(buf: bytes) -> BundleEntry:
    dtype, shape, shard_id, offset, size = 0, (), 0, 0, 0
    for number, value in _proto_fields(buf):
        if number == 1:
            dtype = int(value)
        elif number == 2:
            shape = _parse_shape(value)
        elif number == 3:
            shard_id = int(value)
        elif number == 4:
            offset = int(value)
        elif number == 5:
            size = int(value)
        elif number == 7:
            raise CheckpointFormatError("sliced tensors are not supported")
    return BundleEntry(dtype, shape, shard_id, offset, size)


def _block_entries(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """Decode one table block into (key, value) pairs."""
    if offset + size + _BLOCK_TRAILER_SIZE > len(data):
        raise CheckpointFormatError("block handle points past the end of the file")
    compression = data[offset + size]
    if compression != 0:
        raise CheckpointFormatError(f"compressed table blocks (type {compression}) are not supported")
    block = data[offset : offset + size]
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * num_restarts
    entries = []
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def read_index(index_path: str | Path) -> dict[str, BundleEntry]:
    """Read the ``.index`` file of a checkpoint into {variable name: entry}."""
    data = Path(index_path).read_bytes()
    if len(data) < _FOOTER_SIZE:
        raise CheckpointFormatError(f"{index_path}: too short to be a checkpoint index")
    footer = data[-_FOOTER_SIZE:]
    if int.from_bytes(footer[-8:], "little") != _TABLE_MAGIC:
        raise CheckpointFormatError(f"{index_path}: not a TensorFlow checkpoint index (bad magic)")
    _, pos = _varint(footer, 0)  # metaindex offset
    _, pos = _varint(footer, pos)  # metaindex size
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    entries: dict[str, BundleEntry] = {}
    for _, handle in _block_entries(data, index_offset, index_size):
        block_offset, pos = _varint(handle, 0)
        block_size, _ = _varint(handle, pos)
        for key, value in _block_entries(data, block_offset, block_size):
            if key:  # the empty key is the BundleHeaderProto
                entries[key.decode("utf-8")] = _parse_entry(value)
    return entries


def read_checkpoint(prefix: str | Path, *, skip_optimizer: bool = True) -> dict[str, np.ndarray]:
    """Load every tensor of a checkpoint.

    Parameters
    ----------
    prefix : str or Path
        Checkpoint prefix: ``PREFIX.index`` and ``PREFIX.data-*`` must exist.
        musicnn's prefix is a directory path ending in ``/`` (files ``.index``...).
    skip_optimizer : bool
        Leave out optimiser slots (names ending in ``/Adam`` or ``/Adam_1``) and
        bookkeeping scalars such as ``beta1_power``.

    Returns
    -------
    dict
        Variable name to numpy array, in the checkpoint's dtype and shape.
    """
    prefix = str(prefix)
    entries = read_index(prefix + ".index")
    shards: dict[int, bytes] = {}
    tensors: dict[str, np.ndarray] = {}
    for name, entry in entries.items():
        if skip_optimizer and (name.endswith(("/Adam", "/Adam_1")) or "_power" in name):
            continue
        if entry.dtype not in _DTYPES:
            raise CheckpointFormatError(f"{name}: unsupported dtype enum {entry.dtype}")
        if entry.shard_id not in shards:
            folder, base = os.path.split(prefix)
            shard_files = sorted(Path(folder or ".").glob(f"{base}.data-{entry.shard_id:05d}-of-*"))
            if not shard_files:
                raise CheckpointFormatError(f"{prefix}: data shard {entry.shard_id} is missing")
            shards[entry.shard_id] = shard_files[0].read_bytes()
        raw = shards[entry.shard_id][entry.offset : entry.offset + entry.size]
        dtype = _DTYPES[entry.dtype]
        count = int(np.prod(entry.shape, dtype=np.int64))
        if len(raw) != count * dtype.itemsize:
            raise CheckpointFormatError(f"{name}: expected {count * dtype.itemsize} bytes, found {len(raw)}")
        tensors[name] = np.frombuffer(raw, dtype=dtype).reshape(entry.shape).copy()
    return tensors
