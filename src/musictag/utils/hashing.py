"""Content hashes: of a file's bytes (feature-cache keys), of its audio (library rows: tags may change) and
of a model's weights."""

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
        _read_into(digest, handle, 0, os.fstat(handle.fileno()).st_size)
    return digest.hexdigest()


def audio_hash(path: str | os.PathLike) -> str:
    """XXH3-128 of a file's audio: for FLAC, MP3, WAV, AIFF and MP4 the bytes outside their tag blocks
    (so writing tags, by musictag, beets or any tagger, keeps it), for other formats the whole file.

    The format's name is hashed with the audio, so the same bytes in two containers differ."""
    import xxhash

    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        kind, spans = _audio_spans(handle, size)
        digest = xxhash.xxh3_128(kind.encode())
        for start, end in spans:
            _read_into(digest, handle, start, end)
    return digest.hexdigest()


def _read_into(digest, handle, start: int, end: int) -> None:
    """Feed bytes ``start`` to ``end`` of an open file to ``digest``, a block at a time."""
    handle.seek(start)
    left = end - start
    while left > 0 and (block := handle.read(min(_BLOCK, left))):
        digest.update(block)
        left -= len(block)


def _audio_spans(handle, size: int) -> tuple[str, list[tuple[int, int]]]:
    """(format, [(start, end), ...]) of the byte ranges that hold audio (and its format), not tags."""
    head = handle.read(12)
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:  # ID3v2 before FLAC or MP3: a synchsafe size
        start = 10 + sum((head[6 + i] & 0x7F) << (7 * (3 - i)) for i in range(4)) + (10 if head[5] & 0x10 else 0)
        handle.seek(start)
        head = handle.read(12)
    if head[:4] == b"fLaC":
        spans, position, last = [], start + 4, False
        while not last and position + 4 <= size:  # metadata blocks: 1 byte type and last flag, 3 bytes length
            handle.seek(position)
            header = handle.read(4)
            last, length = bool(header[0] & 0x80), int.from_bytes(header[1:4], "big")
            if header[0] & 0x7F == 0:  # STREAMINFO describes the audio; the others: tags, pictures, padding
                spans.append((position, position + 4 + length))
            position += 4 + length
        return "flac", [*spans, (position, size)]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav", _chunks(handle, 12, size, keep={b"fmt ", b"data"}, big_endian=False)
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff", _chunks(handle, 12, size, keep={b"COMM", b"SSND"}, big_endian=True)
    if head[4:8] == b"ftyp":
        return "mp4", _chunks(handle, 0, size, keep={b"mdat"}, big_endian=True, mp4=True)
    if start or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xfa"):  # MP3 frames
        end = size
        handle.seek(max(0, end - 128))
        if handle.read(3) == b"TAG":  # ID3v1
            end -= 128
        handle.seek(max(0, end - 32))
        footer = handle.read(32)
        if footer[:8] == b"APETAGEX":  # APEv2 (its header too, when it has one)
            end -= int.from_bytes(footer[12:16], "little") + (32 if footer[23] & 0x80 else 0)
        return "mp3", [(start, end)]
    return "file", [(0, size)]


def _chunks(handle, position: int, size: int, *, keep: set[bytes], big_endian: bool, mp4: bool = False) -> list:
    """The byte ranges of the RIFF/IFF chunks (or MP4 top-level atoms) named in ``keep``."""
    order = "big" if big_endian else "little"
    spans = []
    while position + 8 <= size:
        handle.seek(position)
        header = handle.read(8)
        if mp4:  # size then name; size 1: a 64-bit size follows; 0: to the end
            length, name, body = int.from_bytes(header[:4], "big"), header[4:8], 8
            if length == 1:
                length, body = int.from_bytes(handle.read(8), "big"), 16
            elif length == 0:
                length = size - position
        else:  # name then size; bodies are padded to an even length
            name, length, body = header[:4], int.from_bytes(header[4:8], order), 8
            length = body + length + (length & 1)
        if length < body:
            break  # damaged: what was found so far
        if name in keep:
            spans.append((position, min(position + length, size)))
        position += length
    return spans or [(0, size)]


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
