# SPDX-License-Identifier: GPL-3.0-or-later
"""Cross-check of the two implementations (run by CTest; needs Debian's python3-torch):
train a tiny Mamba-1 and a tiny Mamba-2 for a few seconds on the CPU on a toy
device, export them, render the same input with the C++ engine
(`sidewinder render`), and compare with PyTorch's output (run in float64).

Tolerance: max |C++ - PyTorch| <= 1e-4 * max |PyTorch|. The C++ engine works
in fp32 with its own exp/log polynomials (relative error ~1e-7 per op; the
golden tests measure 7e-7 end to end), so 1e-4 leaves two orders of margin for
trained weights while any semantic difference (a wrong split, eps, gate or
conv tap) shows up at 1e-2 or more.

usage: crosscheck.py SIDEWINDER_CLI [WORKDIR]
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import torch  # noqa: E402

from sidewinder_train.audio_io import write_wav  # noqa: E402
from sidewinder_train.export import export  # noqa: E402
from sidewinder_train.models import parameter_count  # noqa: E402
from sidewinder_train.train import TrainSettings, predict, train  # noqa: E402

TOL = 1e-4


def toy_pair(seed=3, seconds=6.0, rate=48000):
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    env = 0.05 + 0.9 * (np.sin(2 * np.pi * 0.5 * t) > 0) * rng.uniform(0.3, 1.0)
    x = env * (0.6 * np.sin(2 * np.pi * 196 * t) + 0.3 * rng.standard_normal(n))
    from scipy.signal import lfilter
    y = lfilter([0.35], [1.0, -0.65], np.tanh(4 * x))
    return x, y


def main():
    cli = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="sw_crosscheck_")
    os.makedirs(work, exist_ok=True)
    x, y = toy_pair()
    n = len(x)
    val = (int(n * 0.8), n)
    test_in = x[val[0]:]
    in_path = os.path.join(work, "input.wav")
    write_wav(in_path, test_in, 48000)
    worst = 0.0
    for arch in ("mamba1", "mamba2"):
        t0 = time.time()
        s = TrainSettings(arch=arch, size="tiny", seed=5, steps=40, batch=4, window=4096, warmup=512,
                          eval_every=20, device="cpu", val_preroll=4800)
        res = train(x, y, [(0, val[0])], val, s, log=lambda *_: None)
        model_path = os.path.join(work, f"{arch}.safetensors")
        export(res.model, model_path, 48000, {"name": f"crosscheck {arch}"}, {}, s.as_dict())
        out_path = os.path.join(work, f"{arch}.f32")
        subprocess.run([cli, "render", in_path, out_path, "-m", model_path], check=True)
        ours = np.fromfile(out_path, dtype="<f4").astype(np.float64)
        ref = predict(res.model.double(), test_in, torch.device("cpu"))
        assert ours.shape == ref.shape, (ours.shape, ref.shape)
        err = float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-12))
        worst = max(worst, err)
        print(f"{arch}: {parameter_count(res.model)} parameters, trained {time.time() - t0:.1f} s to "
              f"held-out ESR {res.best_val_esr:.3g}; C++ vs PyTorch(float64) max rel err {err:.2e} (tol {TOL:g})")
        if not err <= TOL:
            print(f"FAIL: {arch} differs by {err:.3g} > {TOL:g}")
            return 1
        if not res.best_val_esr < 0.9:
            print(f"FAIL: {arch} did not learn anything (held-out ESR {res.best_val_esr:.3g})")
            return 1
    # The trainer's LSTM export is what the C++ LSTM baseline (bench/lstm_loader.cpp) reads.
    s = TrainSettings(arch="lstm16", seed=5, steps=4, batch=2, window=2048, warmup=256, eval_every=4,
                      device="cpu", val_preroll=4800)
    res = train(x, y, [(0, val[0])], val, s, log=lambda *_: None)
    lstm_path = os.path.join(work, "lstm16.safetensors")
    export(res.model, lstm_path, 48000, {"name": "crosscheck lstm16"}, {}, s.as_dict())
    r = subprocess.run([cli, "bench", "--lstm-model", lstm_path, "--seconds", "0.05", "--repeats", "1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL: the C++ LSTM baseline does not load the trainer's export:\n{r.stderr}")
        return 1
    print(f"ok: worst {worst:.2e}; the trainer's LSTM export loads in the C++ baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
