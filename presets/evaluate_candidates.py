#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Re-measure every trained candidate on this machine, against the targets as
they are rendered now from the committed netlists, and keep the best model of
each (circuit, job) across training runs.

The held-out ESR of a Mamba candidate is measured on the C++ engine's own
output (`sidewinder render`), the LSTM baselines' with PyTorch (CPU); both
over the capture's validation segment, after the same 2 s warm-up the trainer
uses. So every figure in presets/README.md is of the model file as shipped,
on the same data, whatever machine or run trained it.

  /usr/bin/python3 presets/evaluate_candidates.py --cli build/release/cli/sidewinder \\
      --out MERGED RUN_DIR [RUN_DIR ...]
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
from sidewinder_train import align, capture_layout  # noqa: E402
from sidewinder_train.audio_io import read_wav  # noqa: E402
from sidewinder_train.safetensors_io import load as load_st  # noqa: E402


def cache_dir():
    return os.environ.get("SIDEWINDER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sidewinder")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--cli", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--preroll", type=int, default=96000)
    p.add_argument("--circuits", default="", help="only these (comma-separated); others keep their entry in "
                   "an existing OUT/summary.json")
    a = p.parse_args()
    cands = {}
    for r in a.runs:
        for f in glob.glob(os.path.join(r, "*", "*.safetensors")):
            circuit, job = f.split(os.sep)[-2], os.path.basename(f)[:-len(".safetensors")]
            cands.setdefault(circuit, {}).setdefault(job, []).append(f)
    x, rate = read_wav(os.path.join(cache_dir(), "capture", "capture_v1.wav"))
    v0, v1 = capture_layout.validation_range()
    pre = min(a.preroll, v0)
    seg = x[v0 - pre:v1]
    tmp = tempfile.mkdtemp(prefix="sw_eval_")
    seg_path = os.path.join(tmp, "in.f32")
    seg.astype("<f4").tofile(seg_path)
    import torch
    from sidewinder_train.export import load as load_model
    from sidewinder_train.train import predict
    summary = {}
    only = [c for c in a.circuits.split(",") if c]
    old = os.path.join(a.out, "summary.json")
    if only and os.path.exists(old):
        with open(old) as f:
            summary = {k: v for k, v in json.load(f).items() if k not in only}
    for circuit in sorted(cands):
        if only and circuit not in only:
            continue
        tpath = os.path.join(cache_dir(), "targets", circuit + ".wav")
        y, ry = read_wav(tpath)
        pair = align.check_and_align(x, rate, y, ry, "capture", tpath)
        yv = pair.y[v0:v1]
        with open(os.path.join(cache_dir(), "targets", circuit + ".json")) as f:
            tinfo = json.load(f)
        for job, files in sorted(cands[circuit].items()):
            best = None
            for f in files:
                if job.startswith("lstm"):
                    m, _ = load_model(f)
                    out = predict(m.double(), seg, torch.device("cpu"))[pre:]
                else:
                    op = os.path.join(tmp, "out.f32")
                    subprocess.run([a.cli, "render", seg_path, op, "-m", f], check=True, capture_output=True)
                    out = np.fromfile(op, dtype="<f4").astype(np.float64)[pre:]
                e = align.esr(yv, out)
                print(f"{circuit:20s} {job:12s} ESR {e:.5f}  {f}", flush=True)
                if best is None or e < best[0]:
                    best = (e, f)
            e, f = best
            os.makedirs(os.path.join(a.out, circuit), exist_ok=True)
            dst = os.path.join(a.out, circuit, job)
            shutil.copy(f, dst + ".safetensors")
            shutil.rmtree(dst + ".report", ignore_errors=True)
            if os.path.isdir(f[:-len(".safetensors")] + ".report"):
                shutil.copytree(f[:-len(".safetensors")] + ".report", dst + ".report")
            _, meta = load_st(f)
            summary.setdefault(circuit, {})[job] = dict(
                held_out_esr=e, trained_esr=float(meta.get("held_out_esr", "nan")), source=f,
                parameters=int(meta.get("parameters", 0)), arch=meta.get("arch", "lstm"),
                size=json.loads(meta["training"]).get("size") if "training" in meta else None,
                training=json.loads(meta.get("training", "{}")), netlist_sha256=tinfo.get("netlist_sha256"))
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
