# SPDX-License-Identifier: GPL-3.0-or-later
"""A synthetic stand-in for the standard capture (same layout: sync impulses,
identical repeat copies) and a toy "device", for the trainer's tests. Seeded,
cheap, needs no fluidsynth."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sidewinder_train import capture_layout as layout  # noqa: E402


def synthetic_capture(seed=1):
    rng = np.random.default_rng(seed)
    n = layout.total_samples()
    x = np.zeros(n)
    t = np.arange(n) / layout.SAMPLE_RATE
    for s in layout.SEGMENTS:
        if s.role == "sync":
            continue
        a, b = s.start_sample, s.end_sample
        seg = np.sin(2 * np.pi * rng.uniform(80, 900) * t[a:b]) * 0.3
        seg += 0.2 * rng.standard_normal(b - a) * (np.sin(2 * np.pi * 0.7 * t[a:b]) > 0)
        x[a:b] = seg * rng.uniform(0.2, 1.0)
    (a0, a1), (b0, b1) = layout.repeat_pair()
    pad = layout.REPEAT_PAD
    x[a0:a1] = 0
    x[a0 + pad:a1 - pad] = 0.5 * np.sin(2 * np.pi * 220 * t[:a1 - a0 - 2 * pad])
    x[b0:b1] = x[a0:a1]
    for p in layout.impulse_positions():
        x[p] = layout.IMPULSE_AMPLITUDE
    return x


def toy_device(x, latency=0, noise=0.0, seed=2):
    """tanh drive + a one-pole low-pass, delayed by `latency` samples."""
    y = np.tanh(3.0 * x)
    # one-pole low-pass, vectorised with scipy
    from scipy.signal import lfilter
    out = lfilter([0.4], [1.0, -0.6], y)
    if noise:
        out = out + noise * np.random.default_rng(seed).standard_normal(len(out))
    return np.concatenate([np.zeros(latency), out])[:len(x)]
