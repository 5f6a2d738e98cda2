#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render circuit-simulated training targets with ngspice.

For every netlist presets/circuits/<name>.cir this drives the circuit with the
capture (a mono 48 kHz WAV, full scale = the netlist's `vin_fs` volts peak),
simulates it with libngspice through spice_render.c (time points forced onto
k/48000, input interpolated inside the simulator), and writes

    <out-dir>/<name>.wav   32-bit float, mono, same rate and sample count as
                           the input; sample k = V(out) at t = k/fs divided by
                           `out_fs` volts (so that the target stays within +-1)
    <out-dir>/<name>.json  circuit, netlist sha256, volts per full scale in and
                           out, simulation options, wall time

The input is cut into chunks of `chunk_s` seconds (fixed per circuit, so the
result does not depend on -j) that are simulated in parallel; each chunk is
preceded by `warmup_s` seconds of the preceding input (silence before the
start), faded in over its first 10 ms, and followed by 2 samples of look-ahead
(the input interpolation needs them); the output of both is thrown away.

Default input: <cache>/capture/capture_v1.wav, default out-dir:
<cache>/targets, where <cache> = $SIDEWINDER_CACHE, else
$XDG_CACHE_HOME/sidewinder, else ~/.cache/sidewinder.

Usage: /usr/bin/python3 presets/circuits/render_targets.py
           [--circuits a,b] [--input X.wav] [--out-dir D] [-j N]
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.io import wavfile
from scipy.signal import butter, sosfilt

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER_SRC = os.path.join(HERE, "spice_render.c")
FS = 48000
TRTOL = 1.0
TMAX_DIV = 2  # maximum time step = 1 / (TMAX_DIV * fs)
FADE_S = 0.01  # fade-in at the start of each chunk's warm-up
LOOKAHEAD = 2  # input samples past a chunk's end given to the simulator, output dropped

DEFAULTS = {
    "vin_fs": 1.0,
    "out_fs": 1.0,
    "warmup_s": 0.5,
    "chunk_s": 10.0,
    "highpass_hz": 0.0,
}


def cache_dir():
    if os.environ.get("SIDEWINDER_CACHE"):
        return os.environ["SIDEWINDER_CACHE"]
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return os.path.join(xdg, "sidewinder")
    return os.path.join(os.path.expanduser("~"), ".cache", "sidewinder")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def all_circuits():
    return sorted(f[:-4] for f in os.listdir(HERE) if f.endswith(".cir"))


def netlist_path(name):
    return os.path.join(HERE, name + ".cir")


def read_params(path):
    """Render parameters from the netlist's '*@ key = value' lines."""
    params = dict(DEFAULTS)
    with open(path) as f:
        for line in f:
            m = re.match(r"^\*@\s*(\w+)\s*=\s*([-+0-9.eE]+)\s*$", line)
            if m:
                if m.group(1) not in DEFAULTS:
                    raise ValueError(f"{path}: unknown render parameter {m.group(1)}")
                params[m.group(1)] = float(m.group(2))
    return params


def build_driver(cache):
    """Compile spice_render.c into the cache (once per source version)."""
    src_hash = sha256_file(DRIVER_SRC)[:12]
    bindir = os.path.join(cache, "bin")
    exe = os.path.join(bindir, f"spice_render-{src_hash}")
    if not os.path.exists(exe):
        os.makedirs(bindir, exist_ok=True)
        tmp = exe + f".tmp{os.getpid()}"
        cmd = ["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-o", tmp, DRIVER_SRC, "-lngspice", "-lm"]
        subprocess.run(cmd, check=True)
        os.replace(tmp, exe)
    return exe, src_hash


def read_wav_mono(path):
    rate, data = wavfile.read(path)
    if data.ndim != 1:
        if data.shape[1] != 1:
            raise SystemExit(f"{path}: expected mono, got {data.shape[1]} channels")
        data = data[:, 0]
    if data.dtype == np.int16:
        x = data.astype(np.float64) / 32768.0
    elif data.dtype == np.int32:
        x = data.astype(np.float64) / 2147483648.0
    elif data.dtype == np.uint8:
        x = (data.astype(np.float64) - 128.0) / 128.0
    else:
        x = data.astype(np.float64)
    return rate, x


def write_wav_float(path, y, rate):
    tmp = path + f".tmp{os.getpid()}"
    wavfile.write(tmp, rate, y.astype(np.float32))
    os.replace(tmp, path)


def chunk_plan(n, fs, chunk_s, warmup_s):
    c = max(1, int(round(chunk_s * fs)))
    w = int(round(warmup_s * fs))
    return [(s, min(n, s + c), w) for s in range(0, n, c)]


def _run_chunk(exe, netlist, v, s, e, w, fs, tmpdir, idx, tmax_div=TMAX_DIV):
    """Simulate input samples [s, e) preceded by w warm-up samples and followed by up to
    LOOKAHEAD samples (the input interpolation between samples k-1 and k reads sample k+1, so
    without them a chunk's last output sample would differ from a single run's)."""
    la = min(LOOKAHEAD, len(v) - e)
    seg = np.zeros(w + (e - s) + la)
    lo = s - w
    src = v[max(lo, 0):e + la]
    seg[len(seg) - len(src):] = src
    nf = min(w, int(round(FADE_S * fs)))
    if nf > 0:
        seg[:nf] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(nf) / nf)
    fin = os.path.join(tmpdir, f"in{idx}.f64")
    fout = os.path.join(tmpdir, f"out{idx}.f64")
    seg.astype("<f8").tofile(fin)
    t0 = time.time()
    retried = None
    for attempt, div in enumerate((tmax_div, 4 * tmax_div)):
        tmax = 1.0 / (div * fs)
        proc = subprocess.run(
            [exe, netlist, fin, fout, repr(float(fs)), repr(tmax), repr(TRTOL)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode == 0:
            break
        msg = (f"spice_render failed on chunk {idx} ({s}..{e}) of {netlist} with max step "
               f"1/{div * fs:g} s:\n" + proc.stderr[-4000:])
        if attempt == 1:
            raise RuntimeError(msg)
        # a failure (should not happen) is retried once with a 4x finer maximum step
        print(msg + "\nretrying with a 4x smaller maximum step", file=sys.stderr, flush=True)
        retried = {"chunk": idx, "start_sample": s, "max_step_s": 1.0 / (4 * tmax_div * fs)}
    y = np.fromfile(fout, dtype="<f8")
    os.remove(fin)
    os.remove(fout)
    if len(y) != len(seg):
        raise RuntimeError(f"chunk {idx}: {len(y)} samples back, {len(seg)} expected")
    return idx, y[w:w + (e - s)], time.time() - t0, retried


def simulate(netlist, v, fs, chunk_s, warmup_s, jobs, exe, tmp_root=None, tmax_div=TMAX_DIV):
    """V(out) for input volts v, chunked and run in parallel. Returns (y, info)."""
    plan = chunk_plan(len(v), fs, chunk_s, warmup_s)
    y = np.empty(len(v))
    cpu = 0.0
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmpdir:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futs = [pool.submit(_run_chunk, exe, netlist, v, s, e, w, fs, tmpdir, i, tmax_div)
                    for i, (s, e, w) in enumerate(plan)]
            retries = []
            for fut in concurrent.futures.as_completed(futs):
                idx, seg, dt, retried = fut.result()
                s, e, _ = plan[idx]
                y[s:e] = seg
                cpu += dt
                if retried:
                    retries.append(retried)
    return y, {"chunks": len(plan), "chunk_wall_sum_s": round(cpu, 2),
               "retries": sorted(retries, key=lambda r: r["chunk"])}


def ngspice_version():
    try:
        out = subprocess.run(["ngspice", "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=20).stdout
        m = re.search(r"ngspice-(\S+)", out)
        return m.group(1) if m else None
    except Exception:
        return None


def render_one(name, x, fs, args, exe, drv_hash, input_path, input_sha):
    path = netlist_path(name)
    p = read_params(path)
    t0 = time.time()
    c0 = os.times()
    v = x * p["vin_fs"]
    y, info = simulate(path, v, fs, p["chunk_s"], p["warmup_s"], args.jobs, exe,
                       tmp_root=args.tmp_root)
    if not np.all(np.isfinite(y)):
        raise RuntimeError(f"{name}: non-finite output")
    if p["highpass_hz"] > 0:
        sos = butter(2, p["highpass_hz"], btype="highpass", fs=fs, output="sos")
        y = sosfilt(sos, y)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    out_fs = p["out_fs"]
    if peak > out_fs:
        # keep the target within +-1: raise the scale to the next 1/100 step above the peak
        new = float(np.ceil(peak / out_fs * 100.0) / 100.0 * out_fs)
        print(f"  {name}: output peak {peak:.4g} V exceeds out_fs {out_fs:g} V; using {new:g} V",
              file=sys.stderr)
        out_fs = new
    wall = time.time() - t0
    c1 = os.times()
    os.makedirs(args.out_dir, exist_ok=True)
    wav = os.path.join(args.out_dir, name + ".wav")
    write_wav_float(wav, y / out_fs, fs)
    meta = {
        "circuit": name,
        "netlist": os.path.relpath(path, os.path.dirname(os.path.dirname(HERE))),
        "netlist_sha256": sha256_file(path),
        "input": os.path.abspath(input_path),
        "input_sha256": input_sha,
        "samples": int(len(y)),
        "sample_rate": fs,
        "input_volts_per_full_scale": p["vin_fs"],
        "output_volts_per_full_scale": out_fs,
        "output_volts_per_full_scale_nominal": p["out_fs"],
        "gain_full_scale_out_per_in": p["vin_fs"] / out_fs,
        "output_peak_volts": peak,
        "output_peak_full_scale": peak / out_fs,
        "output_rms_full_scale": float(np.sqrt(np.mean((y / out_fs) ** 2))) if len(y) else 0.0,
        "highpass_hz": p["highpass_hz"],
        "highpass": ("2nd-order Butterworth, causal (sosfilt)" if p["highpass_hz"] > 0 else None),
        "alignment": "sample k = V(out) at t = k / sample_rate; input interpolated with Catmull-Rom",
        "simulation": {
            "simulator": "libngspice (shared library) via spice_render.c",
            "ngspice_version": ngspice_version(),
            "driver_sha256_12": drv_hash,
            "trtol": TRTOL,
            "max_step_s": 1.0 / (TMAX_DIV * fs),
            "method": "trapezoidal (ngspice default)",
            "chunk_s": p["chunk_s"],
            "warmup_s": p["warmup_s"],
            "warmup_fade_in_s": FADE_S,
            "chunks": info["chunks"],
            "chunks_retried_with_finer_step": info["retries"],
        },
        "wall_time_s": round(wall, 2),
        "cpu_time_children_s": round((c1.children_user - c0.children_user)
                                     + (c1.children_system - c0.children_system), 2),
        "jobs": args.jobs,
    }
    with open(os.path.join(args.out_dir, name + ".json.tmp"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(args.out_dir, name + ".json.tmp"),
               os.path.join(args.out_dir, name + ".json"))
    return meta


def main(argv=None):
    cache = cache_dir()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--circuits", default=",".join(all_circuits()),
                    help="comma-separated netlist names (default: all)")
    ap.add_argument("--input", default=os.path.join(cache, "capture", "capture_v1.wav"))
    ap.add_argument("--out-dir", default=os.path.join(cache, "targets"))
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--tmp-root", default=None, help="where chunk files go (default: system temp)")
    args = ap.parse_args(argv)

    names = [c.strip() for c in args.circuits.split(",") if c.strip()]
    for n in names:
        if not os.path.exists(netlist_path(n)):
            raise SystemExit(f"no netlist {netlist_path(n)} (have: {', '.join(all_circuits())})")
    if not os.path.exists(args.input):
        raise SystemExit(f"input {args.input} does not exist")
    fs, x = read_wav_mono(args.input)
    if fs != FS:
        raise SystemExit(f"{args.input}: sample rate {fs}, expected {FS}")
    input_sha = sha256_file(args.input)
    exe, drv_hash = build_driver(cache)
    print(f"input {args.input}: {len(x)} samples ({len(x) / fs:.1f} s), peak {np.max(np.abs(x)):.3f}; "
          f"-j {args.jobs}", flush=True)
    for n in names:
        meta = render_one(n, x, fs, args, exe, drv_hash, args.input, input_sha)
        print(f"{n}: wall {meta['wall_time_s']:.1f} s, cpu {meta['cpu_time_children_s']:.1f} s, "
              f"in {meta['input_volts_per_full_scale']:g} V/FS, out {meta['output_volts_per_full_scale']:g} V/FS, "
              f"peak {meta['output_peak_full_scale']:.3f} FS -> {os.path.join(args.out_dir, n + '.wav')}",
              flush=True)


if __name__ == "__main__":
    main()
