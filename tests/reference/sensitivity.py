#!/usr/bin/env python3
"""How far fp32 rounding alone can move each golden case's output.

Perturbs every weight and every input sample by an independent relative
N(0, 1)·2^-24 (the size of fp32 rounding), runs the float64 reference, and
prints max|y' - y| / max|y| (the tests' error measure) over a few trials. This
is the floor under any fp32 implementation's error and the basis of the 1e-5
tolerance in tests/test_golden.cpp (docs/testing.md).

Usage: /usr/bin/python3 tests/reference/sensitivity.py [--presets]
(--presets: the same for the shipped presets on their regression inputs,
tests/test_presets.cpp's tolerance.)
"""
# SPDX-License-Identifier: GPL-3.0-or-later
import copy
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mamba_ref as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "data", "golden")
CASES = ["m1_basic", "m1_odd", "m1_state1", "m1_bf16", "m1_f16", "m2_basic", "m2_groups", "m2_bf16", "backbone_m1"]
REL = 2.0 ** -24


def perturbed(m, rng):
    p = copy.deepcopy(m)
    jig = lambda a: a * (1.0 + REL * rng.standard_normal(a.shape))  # noqa: E731
    p.layers = [{k: jig(v) for k, v in lay.items()} for lay in m.layers]
    p.norm_f = jig(m.norm_f)
    if getattr(m, "audio", None):
        p.audio = {k: jig(v) for k, v in m.audio.items()}
    return p, jig


def main():
    rng = np.random.default_rng(2024)
    worst = 0.0
    presets = "--presets" in sys.argv[1:]
    names = sorted(f[:-len(".safetensors")] for f in os.listdir(os.path.join(ROOT, "presets"))
                   if f.endswith(".safetensors")) if presets else CASES
    for name in names:
        if presets:
            m = ref.load_model(os.path.join(ROOT, "presets", name + ".safetensors"))
            io, _ = ref.read_safetensors(os.path.join(ROOT, "tests", "data", "presets", name + ".io.safetensors"))
        else:
            m = ref.load_model(os.path.join(GOLDEN, name + ".safetensors"))
            io, _ = ref.read_safetensors(os.path.join(GOLDEN, name + ".io.safetensors"))
        u, y = io["input"], ref.run(m, io["input"])
        errs = []
        for _ in range(5):
            p, jig = perturbed(m, rng)
            errs.append(np.abs(ref.run(p, jig(u)) - y).max() / np.abs(y).max())
        worst = max(worst, max(errs))
        print(f"{name:12s} max|dy|/max|y| over 5 trials: {max(errs):.2e}")
    print(f"worst {worst:.2e}; the tests allow {'1e-4 (presets)' if presets else '1e-5'}")


if __name__ == "__main__":
    main()
