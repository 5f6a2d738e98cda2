# SPDX-License-Identifier: GPL-3.0-or-later
"""A minimal safetensors writer/reader (ref: huggingface/safetensors docs:
8-byte little-endian header length, JSON header, raw little-endian data)."""
import json
import os
import struct

import numpy as np


def save(path, tensors, metadata):
    """tensors: name -> array-like (written as F32); metadata: str -> str."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    h += b" " * (-len(h) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", f"{path}: {name}: only F32 is read here"
        b, t = e["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + t], dtype="<f4").reshape(e["shape"])
    return out, meta
