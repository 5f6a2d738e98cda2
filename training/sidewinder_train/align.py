# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks and alignment of an (input, target) capture pair.

The input must be the standard capture (capture_layout.py, docs/capture.md).
The device's latency is read from the sync impulses at the head and checked
against those at the tail; the device's repeatability from the two identical
copies of the repeat segment. Every refusal is one TrainError that says what
is wrong and what to do.
"""
from dataclasses import dataclass

import numpy as np

from . import capture_layout as layout
from .errors import TrainError


@dataclass
class AlignedPair:
    x: np.ndarray            # (T,) input
    y: np.ndarray            # (T,) target, shifted left by `latency` samples (zeros at the very end)
    latency: int             # samples
    head_latencies: list
    tail_latencies: list
    self_esr: float          # ESR between the device's outputs for the two repeat copies
    sample_rate: int


def esr(target, pred):
    target, pred = np.asarray(target, np.float64), np.asarray(pred, np.float64)
    return float(np.sum((target - pred) ** 2) / max(np.sum(target ** 2), 1e-30))


def _impulse_latency(y, pos, max_latency, noise):
    """Offset from the impulse (-max_latency .. max_latency) of the first sample where |y| reaches half
    the response's peak."""
    lo = max(0, pos - max_latency)
    w = np.abs(y[lo:pos + max_latency + 1])
    peak = float(w.max()) if w.size else 0.0
    if peak <= max(10.0 * noise, 1e-5):
        return None
    return lo + int(np.argmax(w >= 0.5 * peak)) - pos


def check_and_align(x, rate_x, y, rate_y, input_path="input", target_path="target",
                    max_latency_ms=100.0, max_self_esr=2e-3, max_drift=2):
    if rate_x != rate_y:
        raise TrainError(f"sample rates differ: {input_path} is {rate_x} Hz, {target_path} is {rate_y} Hz; "
                         f"record the target at the input's rate")
    if rate_x != layout.SAMPLE_RATE:
        raise TrainError(f"{input_path}: {rate_x} Hz; the standard capture (v{layout.VERSION}) is "
                         f"{layout.SAMPLE_RATE} Hz")
    if len(x) != layout.total_samples():
        raise TrainError(f"{input_path}: {len(x)} samples; the standard capture v{layout.VERSION} has "
                         f"{layout.total_samples()} (is this the capture file from training/capture/make_capture.py?)")
    if len(y) != len(x):
        raise TrainError(f"lengths differ: {input_path} has {len(x)} samples, {target_path} has {len(y)} "
                         f"({(len(y) - len(x)) / rate_x:+.3f} s); record the whole capture, trim nothing")
    pos = layout.impulse_positions()
    for p in pos:
        if abs(x[p]) < 0.5 * layout.IMPULSE_AMPLITUDE:
            raise TrainError(f"{input_path}: no sync impulse at sample {p}: not the standard capture v{layout.VERSION}")
    max_lat = int(round(max_latency_ms * 1e-3 * rate_x))
    head0 = layout.segments("sync")[0].start_sample
    quiet = y[head0:pos[0] - 1]
    noise = float(np.sqrt(np.mean(quiet ** 2))) if quiet.size else 0.0
    lats = [_impulse_latency(y, p, max_lat, noise) for p in pos]
    n_head = len(layout.IMPULSE_OFFSETS)
    head, tail = lats[:n_head], lats[n_head:]
    if any(v is None for v in head):
        raise TrainError(f"{target_path}: the sync impulses at the start (0.5 s, 1.0 s, 1.6 s) are not in the "
                         f"recording within {max_latency_ms:g} ms (found {head}); was the whole capture recorded, "
                         f"with the device's output loud enough?")
    if any(v is None for v in tail):
        raise TrainError(f"{target_path}: the sync impulses at the end are missing (found {tail}); the recording "
                         f"was cut short or does not line up with {input_path}")
    if max(head) - min(head) > max_drift:
        raise TrainError(f"{target_path}: the sync impulses at the start disagree about the latency ({head} samples): "
                         f"the pair does not line up")
    lat_head, lat_tail = int(np.median(head)), int(np.median(tail))
    if lat_head < 0:
        raise TrainError(f"{target_path} leads {input_path} by {-lat_head} samples: swapped files, or not a "
                         f"recording of this capture")
    if abs(lat_tail - lat_head) > max_drift:
        raise TrainError(f"the pair does not line up: latency {lat_head} samples at the start but {lat_tail} at the end "
                         f"(drift of {lat_tail - lat_head} samples: a sample-rate mismatch or dropped samples)")
    lat = lat_head
    ya = np.concatenate([y[lat:], np.zeros(lat)])
    if np.sqrt(np.mean(ya ** 2)) < 1e-4:
        raise TrainError(f"{target_path}: the recording is silent (below -80 dBFS RMS)")
    (a0, a1), (b0, b1) = layout.repeat_pair()
    pad = layout.REPEAT_PAD
    half = (a1 - a0 - 2 * pad) // 2  # the second half of each copy's material: its history is the same
    sa, sb = ya[a0 + pad + half:a1 - pad], ya[b0 + pad + half:b1 - pad]
    self_esr = esr(sa, sb)
    if not self_esr <= max_self_esr:
        raise TrainError(f"{target_path}: the device is not repeatable: its outputs for the two identical repeat "
                         f"segments differ (self-ESR {self_esr:.3g} > {max_self_esr:g}); check for noise, "
                         f"modulation or a changed setting")
    return AlignedPair(x=np.asarray(x, np.float64), y=ya, latency=lat, head_latencies=head, tail_latencies=tail,
                       self_esr=self_esr, sample_rate=rate_x)


def training_ranges():
    """[(start, end)] of contiguous training material (train segments and the first repeat copy)."""
    segs = [s for s in layout.SEGMENTS if s.role == "train" or s.name == "repeat_a"]
    out = []
    for s in segs:
        if out and out[-1][1] == s.start_sample:
            out[-1] = (out[-1][0], s.end_sample)
        else:
            out.append((s.start_sample, s.end_sample))
    return out
