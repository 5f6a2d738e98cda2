# SPDX-License-Identifier: GPL-3.0-or-later
"""WAV files with numpy only (the GPU machines have no libsndfile binding).

Reads RIFF/WAVE PCM 16/24/32-bit and IEEE float 32/64 (plain or
WAVE_FORMAT_EXTENSIBLE), mono; writes float32 or 24-bit PCM.
"""
import os
import struct

import numpy as np

from .errors import TrainError

_PCM, _FLOAT, _EXT = 1, 3, 0xFFFE


def read_wav(path):
    """-> (samples float64 (T,), sample_rate). Refuses anything it cannot read with one message."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TrainError(f"{path}: cannot read: {e.strerror}") from None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TrainError(f"{path}: not a WAV file (no RIFF/WAVE header)")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise TrainError(f"{path}: truncated fmt chunk")
            tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _EXT and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, ch, rate, bits)
        elif cid == b"data" and payload is None:
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None:
        raise TrainError(f"{path}: missing {'fmt' if fmt is None else 'data'} chunk")
    tag, ch, rate, bits = fmt
    if ch != 1:
        raise TrainError(f"{path}: {ch} channels; expected a mono recording")
    if tag == _PCM and bits in (16, 24, 32):
        width = bits // 8
        n = len(payload) // width
        raw = np.frombuffer(payload[:n * width], dtype=np.uint8)
        if bits == 16:
            x = raw.view("<i2").astype(np.float64) / 32768.0
        elif bits == 32:
            x = raw.view("<i4").astype(np.float64) / 2147483648.0
        else:
            b = raw.reshape(n, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            v = np.where(v >= 1 << 23, v - (1 << 24), v)
            x = v.astype(np.float64) / 8388608.0
    elif tag == _FLOAT and bits in (32, 64):
        dt = "<f4" if bits == 32 else "<f8"
        n = len(payload) // (bits // 8)
        x = np.frombuffer(payload[:n * (bits // 8)], dtype=dt).astype(np.float64)
    else:
        raise TrainError(f"{path}: unsupported sample format (tag {tag}, {bits} bits); use PCM 16/24/32 or float 32")
    if not np.all(np.isfinite(x)):
        raise TrainError(f"{path}: contains NaN or infinite samples")
    return x, rate


def write_wav(path, x, rate, float32=True):
    """Writes to a temporary file and renames it, so no half-written file is left behind."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if float32:
        payload, tag, bits = x.astype("<f4").tobytes(), _FLOAT, 32
    else:
        v = np.clip(np.round(x * 8388608.0), -8388608, 8388607).astype("<i4")
        payload = v.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        tag, bits = _PCM, 24
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate * bits // 8, bits // 8, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    if len(payload) & 1:
        chunks += b"\0"
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    os.replace(tmp, path)
