#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the golden fixtures into tests/data/golden/ (deterministic, seeded).

For each case NAME: NAME.safetensors (the model) and NAME.io.safetensors
(F32 `input` [T, C_in] and `output` [T, C_out], metadata {"case": NAME}); the
output is computed by mamba_ref.run in float64 from the weights and the input
AS STORED (after F32/F16/BF16 rounding). Also writes demo_fx.safetensors.

    /usr/bin/python3 tests/reference/make_fixtures.py
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mamba_ref as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "golden")
T = 97  # samples, odd on purpose

# name, seed, dtype, norm_eps, random_tensors(...) arguments, description
CASES = [
    ("m1_basic", 101, "F32", "1e-5",
     dict(arch="mamba1", L=2, D=16, E=32, N=8, K=4, R=1, C_in=1, C_out=1, skip=True),
     "Mamba-1, 2 layers, mono in/out with skip."),
    ("m1_odd", 102, "F32", "0.01",
     dict(arch="mamba1", L=3, D=12, E=20, N=7, K=3, R=3, C_in=2, C_out=3, skip=False, mixer_bias=True),
     "Mamba-1, 3 layers, odd sizes, dt_rank 3, 2 in / 3 out, no skip, mixer in/out_proj biases, "
     "norm_eps 0.01."),
    ("m1_state1", 103, "F32", "1e-5",
     dict(arch="mamba1", L=1, D=8, E=16, N=1, K=2, R=2, C_in=1, C_out=1, skip=True),
     "Mamba-1, 1 layer, d_state 1, d_conv 2."),
    ("m1_bf16", 104, "BF16", "1e-5",
     dict(arch="mamba1", L=2, D=16, E=32, N=16, K=4, R=1, C_in=1, C_out=1, skip=True),
     "Mamba-1, 2 layers, BF16 weights."),
    ("m2_basic", 201, "F32", "1e-5",
     dict(arch="mamba2", L=2, D=16, E=32, N=16, K=4, P=8, G=1, C_in=1, C_out=1, skip=True),
     "Mamba-2, 2 layers, 4 heads of 8, 1 group, D per head, gate_norm_eps 1e-3."),
    ("m2_groups", 202, "F32", "0.01",
     dict(arch="mamba2", L=2, D=24, E=48, N=7, K=3, P=12, G=2, C_in=1, C_out=1, skip=True,
          D_per_channel=True, mixer_bias=True),
     "Mamba-2, 2 layers, 4 heads of 12, 2 groups, d_state 7, D per channel [E], mixer in/out_proj biases, norm_eps 0.01 (block norms only; the gated norm keeps 1e-5)."),
    ("m2_bf16", 203, "BF16", "1e-5",
     dict(arch="mamba2", L=2, D=16, E=32, N=8, K=2, P=16, G=2, C_in=1, C_out=1, skip=True),
     "Mamba-2, 2 layers, 2 heads of 16, 2 groups, BF16 weights."),
    ("m1_f16", 105, "F16", "1e-5",
     dict(arch="mamba1", L=1, D=8, E=16, N=4, K=4, R=1, C_in=1, C_out=1, skip=True),
     "Mamba-1, 1 layer, F16 weights."),
    ("backbone_m1", 301, "F32", None,
     dict(arch="mamba1", L=2, D=8, E=16, N=4, K=4, R=1, audio=False),
     None),  # plain mamba_ssm-style backbone: metadata {"format": "pt"} only
]


def metadata_for(name, arch, cfg, eps, description):
    meta = {"format": "sidewinder", "format_version": "1", "arch": arch, "sample_rate": "48000",
            "norm_eps": eps}
    if arch == "mamba2":
        meta["headdim"] = str(cfg["P"])
        meta["ngroups"] = str(cfg["G"])
        if name == "m2_basic":
            meta["gate_norm_eps"] = "1e-3"  # the gated norm's own epsilon (default 1e-5)
    meta["name"] = name
    meta["description"] = description
    meta["author"] = "Sidewinder test fixtures (tests/reference/make_fixtures.py)"
    meta["license"] = "GPL-3.0-or-later"
    return meta


def write_case(name, seed, dtype, eps, cfg, description):
    rng = np.random.default_rng(seed)
    tensors = ref.random_tensors(rng, **cfg)
    if cfg.get("audio", True):
        meta = metadata_for(name, cfg["arch"], cfg, eps, "Golden test case (random weights): " + description)
    else:
        meta = {"format": "pt"}
    path = os.path.join(OUT, name + ".safetensors")
    ref.write_safetensors(path, tensors, meta, dtype=dtype)
    model = ref.load_model(path)                                  # the weights AS STORED
    c_in = model.C_in
    u = ref.test_input(rng, T, c_in).astype(np.float32).astype(np.float64)   # [T, C_in], as stored
    y = ref.run(model, u)                                         # [T, C_out], float64
    io_path = os.path.join(OUT, name + ".io.safetensors")
    ref.write_safetensors(io_path, {"input": u, "output": y}, {"case": name}, dtype="F32")
    # sanity: the recurrence matters (compare with the state reset every sample)
    y_nostate = np.stack([ref.step(model, ref.new_state(model), u[t]) for t in range(T)])
    rec = np.max(np.abs(y - y_nostate))
    print(f"{name:12s} {model.arch} {dtype:4s} L={model.L} D={model.D} E={model.E} N={model.N} K={model.K} "
          + (f"R={model.R}" if model.arch == "mamba1" else f"H={model.H} P={model.P} G={model.G}")
          + f" in=[{T},{model.C_in}] out=[{T},{model.C_out}] |y|max={np.max(np.abs(y)):.3f}"
          f" std={np.std(y):.3f} recurrence-effect={rec:.3f}"
          f" ({os.path.getsize(path)} B)")
    assert np.all(np.isfinite(y)) and np.std(y) > 0.05 and np.max(np.abs(y)) < 10 and rec > 0.01
    return model


def write_demo():
    rng = np.random.default_rng(401)
    cfg = dict(arch="mamba1", L=2, D=16, E=32, N=8, K=4, R=1, C_in=1, C_out=1,
               out_scale=0.1, skip_weight=1.0)
    tensors = ref.random_tensors(rng, **cfg)
    tensors["audio.out_proj.bias"] = np.zeros(1)   # no DC offset added to the dry signal
    meta = {"format": "sidewinder", "format_version": "1", "arch": "mamba1", "sample_rate": "48000",
            "norm_eps": "1e-5", "name": "demo-random",
            "description": "RANDOM, UNTRAINED weights (seeded, tests/reference/make_fixtures.py): a demo "
                           "model for exercising the engine, NOT a real effect. Output = dry input "
                           "(skip weight 1.0) + a small random Mamba-1 colouration. Shape fx-s: "
                           "2 layers, d_model 16, d_inner 32, d_state 8, d_conv 4, dt_rank 1.",
            "author": "Sidewinder test fixtures",
            "license": "GPL-3.0-or-later",
            "models": "nothing (random weights)"}
    path = os.path.join(OUT, "demo_fx.safetensors")
    ref.write_safetensors(path, tensors, meta, dtype="F32")
    m = ref.load_model(path)
    u = ref.test_input(np.random.default_rng(402), 4800, 1)
    y = ref.run(m, u)
    wet = y - u
    print(f"demo_fx      {m} ({os.path.getsize(path)} B): rms(dry)={np.sqrt(np.mean(u**2)):.3f} "
          f"rms(colouration)={np.sqrt(np.mean(wet**2)):.3f}")


def main():
    os.makedirs(OUT, exist_ok=True)
    for c in CASES:
        write_case(*c)
    write_demo()
    for f in sorted(os.listdir(OUT)):
        assert os.path.getsize(os.path.join(OUT, f)) < 100_000, f


if __name__ == "__main__":
    main()
