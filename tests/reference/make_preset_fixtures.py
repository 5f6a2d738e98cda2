#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Regression fixtures for the shipped presets (tests/test_presets.cpp).

For every presets/*.safetensors: a short seeded input (0.1 s at 48 kHz: a
plucked note, a loud noise burst, a quiet sine — quiet and loud, so every
nonlinearity is exercised) and the output of the independent float64 NumPy
reference (mamba_ref.py, the same one the golden vectors come from), stored as
tests/data/presets/<preset>.io.safetensors with tensors `input` and `output`
[T, 1]. Re-run after changing a preset:

  /usr/bin/python3 tests/reference/make_preset_fixtures.py
"""
import glob
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mamba_ref  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
T = 4800


def test_input(seed=11):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 48000.0
    x = np.zeros(T)
    n1 = T // 3
    f0 = 196.0
    x[:n1] = 0.6 * np.exp(-t[:n1] * 12) * sum(np.sin(2 * np.pi * f0 * k * t[:n1]) / k for k in range(1, 6))
    n2 = 2 * T // 3
    x[n1:n2] = 0.8 * rng.standard_normal(n2 - n1) * np.hanning(n2 - n1) ** 0.3
    x[n2:] = 0.05 * np.sin(2 * np.pi * 440 * t[n2:])
    return np.clip(x, -0.99, 0.99)


def main():
    out_dir = os.path.join(ROOT, "tests", "data", "presets")
    os.makedirs(out_dir, exist_ok=True)
    x = test_input()[:, None]                                    # [T, 1]
    presets = sorted(glob.glob(os.path.join(ROOT, "presets", "*.safetensors")))
    for old in glob.glob(os.path.join(out_dir, "*.io.safetensors")):
        if os.path.basename(old)[:-len(".io.safetensors")] not in {os.path.basename(p)[:-12] for p in presets}:
            os.remove(old)
    for p in presets:
        name = os.path.basename(p)[:-len(".safetensors")]
        m = mamba_ref.load_model(p)
        y = mamba_ref.run(m, x)                                  # [T, 1]
        mamba_ref.write_safetensors(os.path.join(out_dir, name + ".io.safetensors"),
                                    {"input": x, "output": y}, {"preset": name, "samples": str(T)})
        print(f"{name}: peak in {np.max(np.abs(x)):.3f}, peak out {np.max(np.abs(y)):.3f}")


if __name__ == "__main__":
    main()
