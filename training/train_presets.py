#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Train every candidate for every circuit, in parallel, on one machine (a CUDA
GPU: many small models share it well). For each circuit: Mamba-1 and Mamba-2
at the sizes asked for, and the LSTM-16 / LSTM-40 baselines, all on the same
capture and the same held-out segment. Writes OUT/<circuit>/<job>.safetensors,
its .report/ folder and .log, and OUT/summary.json (every job's metrics).

  python3 training/train_presets.py --capture CAP.wav --targets DIR --out OUT \\
      [--circuits a,b] [--jobs mamba1:lite,mamba2:s,lstm16,...] [--parallel N] [--max-minutes M]

Which candidate becomes the shipped preset is decided afterwards on the
reference CPU (presets/select_presets.py): best held-out ESR among those whose
measured cost is below the LSTM-40's.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JOBS = "mamba1:lite,mamba1:s,mamba2:lite,mamba2:s,lstm16,lstm40"


def job_name(job):
    return job.replace(":", "-")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--capture", required=True)
    p.add_argument("--targets", required=True, help="folder of <circuit>.wav targets")
    p.add_argument("--out", required=True)
    p.add_argument("--circuits", default="", help="comma-separated (default: every .wav in --targets)")
    p.add_argument("--jobs", default=DEFAULT_JOBS)
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--max-minutes", type=float, default=6.0)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--device", default="auto")
    p.add_argument("--extra", default="", help="extra arguments for every job")
    p.add_argument("--init-dir", default="", help="fine-tune from INIT_DIR/<circuit>/<job>.safetensors where present")
    a = p.parse_args()
    circuits = [c for c in a.circuits.split(",") if c] or sorted(
        f[:-4] for f in os.listdir(a.targets) if f.endswith(".wav"))
    queue = []
    for c in circuits:
        os.makedirs(os.path.join(a.out, c), exist_ok=True)
        for job in a.jobs.split(","):
            arch, _, size = job.partition(":")
            out = os.path.join(a.out, c, job_name(job) + ".safetensors")
            cmd = [sys.executable, "-m", "sidewinder_train", a.capture, os.path.join(a.targets, c + ".wav"),
                   "-o", out, "--arch", arch, "--name", f"{c} {job_name(job)}", "--steps", str(a.steps),
                   "--max-minutes", str(a.max_minutes), "--device", a.device, "--models", c]
            if size:
                cmd += ["--size", size]
            cmd += a.extra.split()
            init = os.path.join(a.init_dir, c, job_name(job) + ".safetensors") if a.init_dir else ""
            if init and os.path.exists(init):
                cmd += ["--init", init]
            queue.append((c, job, cmd, out))
    running, t0 = [], time.time()
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1")
    while queue or running:
        while queue and len(running) < a.parallel:
            c, job, cmd, out = queue.pop(0)
            log = open(out[:-len(".safetensors")] + ".log", "w")
            running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), c, job, log))
        time.sleep(2)
        for r in list(running):
            if r[0].poll() is not None:
                r[3].close()
                running.remove(r)
                print(f"[{time.time() - t0:6.0f} s] {r[1]} {r[2]}: exit {r[0].returncode}", flush=True)
    summary = {}
    for c in circuits:
        for job in a.jobs.split(","):
            mp = os.path.join(a.out, c, job_name(job) + ".report", "metrics.json")
            if os.path.exists(mp):
                with open(mp) as f:
                    summary.setdefault(c, {})[job_name(job)] = json.load(f)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    for c, jobs in summary.items():
        print(c, "  ".join(f"{j}={m['held_out_esr']:.4g}" for j, m in jobs.items()))


if __name__ == "__main__":
    main()
