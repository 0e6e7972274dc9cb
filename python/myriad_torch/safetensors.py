"""Pure-Python safetensors reader/writer (Debian 12 ships no python3-safetensors).

Format: u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} with an
optional "__metadata__" map of strings, then the raw little-endian tensor bytes.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Dict, Tuple

import torch

_TO_TORCH = {
    "F32": torch.float32,
    "F64": torch.float64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I32": torch.int32,
    "I64": torch.int64,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_FROM_TORCH = {v: k for k, v in _TO_TORCH.items()}


def load_safetensors_bytes(data: bytes) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Decodes a safetensors image into (tensors, metadata); raises ValueError naming what is wrong."""
    if len(data) < 8:
        raise ValueError(f"safetensors: file of {len(data)} bytes is shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"safetensors: header length {n} runs past the end of a {len(data)}-byte file")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    base = 8 + n
    tensors: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        dtype = _TO_TORCH.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"safetensors: tensor {name!r} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        shape = [int(d) for d in info["shape"]]
        raw = bytearray(data[base + start : base + end])
        t = torch.frombuffer(raw, dtype=dtype) if len(raw) > 0 else torch.empty(0, dtype=dtype)
        count = 1
        for d in shape:
            count *= d
        if t.numel() != count:
            raise ValueError(f"safetensors: tensor {name!r} has {t.numel()} elements for shape {shape}")
        tensors[name] = t.reshape(shape).clone()
    return tensors, {str(k): str(v) for k, v in metadata.items()}


def load_safetensors(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Reads a .safetensors file into (tensors, metadata)."""
    with open(path, "rb") as f:
        return load_safetensors_bytes(f.read())


def save_safetensors_bytes(tensors: Dict[str, torch.Tensor], metadata: Dict[str, str] | None = None) -> bytes:
    """Encodes tensors (and string metadata) as a safetensors image; tensors are stored by descending element size so each stays aligned."""
    entries = []
    for name, t in tensors.items():
        if name == "__metadata__":
            raise ValueError('safetensors: "__metadata__" cannot name a tensor')
        t = t.detach().cpu().contiguous()
        if t.dtype not in _FROM_TORCH:
            raise ValueError(f"safetensors: tensor {name!r} has unsupported dtype {t.dtype}")
        entries.append((name, t))
    entries.sort(key=lambda e: (-e[1].element_size(), e[0]))
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for name, t in entries:
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": _FROM_TORCH[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)  # keeps the data section 8-byte aligned
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def save_safetensors(path: str, tensors: Dict[str, torch.Tensor], metadata: Dict[str, str] | None = None) -> None:
    """Writes a .safetensors file atomically (temp file + rename)."""
    data = save_safetensors_bytes(tensors, metadata)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
