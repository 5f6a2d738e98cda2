#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of the circuit netlists (a verification run, not part of the test suite).

    /usr/bin/python3 presets/circuits/check_circuits.py [-j N] [--json FILE] [--only harmonics,compressor,chunks,step]

harmonics   sines at several levels through the clipping circuits: harmonics re the
            fundamental, even/odd energy, waveform asymmetry
compressor  opto_compressor: static curve, gain reduction vs time on level steps (attack and
            release 63 % times for short and long holds)
chunks      chunked (2 s chunks with each netlist's warm-up) vs one single run on a 6 s test
            signal: difference in dB re the signal
step        the 1/96000 maximum step vs a 1/768000 reference on 1.5 s loud excerpts (synthetic
            white-noise worst case; the capture's noise bursts, guitar and drums): SNR in dB
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render_targets as rt  # noqa: E402

FS = rt.FS
CLIPPERS = ["ts_overdrive", "fuzz_face", "triode_preamp", "tonestack_clipper", "mxr_distortion_plus"]


def db(x):
    return 10.0 ** (x / 20.0)


def run(name, x_fs, exe, jobs, chunk_s=None, warmup_s=None, tmax_div=rt.TMAX_DIV):
    """Circuit output in volts for capture-scale input x_fs (single run unless chunk_s given)."""
    p = rt.read_params(rt.netlist_path(name))
    v = x_fs * p["vin_fs"]
    c = chunk_s if chunk_s is not None else len(v) / FS + 1.0
    w = warmup_s if warmup_s is not None else p["warmup_s"]
    y, _ = rt.simulate(rt.netlist_path(name), v, FS, c, w, jobs, exe, tmax_div=tmax_div)
    return y


def harmonics(y, f0, nh=6):
    w = np.hanning(len(y))
    X = np.abs(np.fft.rfft((y - y.mean()) * w))
    fr = np.fft.rfftfreq(len(y), 1.0 / FS)
    amps = []
    for n in range(1, nh + 1):
        k = int(round(n * f0 * len(y) / FS))
        amps.append(X[max(k - 2, 0):k + 3].max())
    return np.array(amps)


def check_harmonics(exe, jobs):
    out = {}
    f0 = 250.0  # 0.4 s holds exactly 100 periods
    levels = [-40, -20, -12, -6, -1]
    for name in CLIPPERS:
        segs = []
        t = np.arange(int(0.8 * FS)) / FS
        for lvl in levels:
            s = db(lvl) * np.sin(2 * np.pi * f0 * t)
            s[:480] *= np.linspace(0, 1, 480)
            segs.append(s)
        x = np.concatenate(segs)
        y = run(name, x, exe, jobs)
        res = []
        for i, lvl in enumerate(levels):
            seg = y[i * len(t) + int(0.4 * FS): (i + 1) * len(t)]
            h = harmonics(seg, f0)
            rel = 20 * np.log10(h[1:] / h[0] + 1e-30)
            even = np.sum(h[1::2] ** 2)  # H2, H4, H6
            odd = np.sum(h[2::2] ** 2)  # H3, H5
            seg0 = seg - seg.mean()
            res.append({
                "level_dbfs": lvl,
                "out_peak_pos_V": float(seg0.max()), "out_peak_neg_V": float(seg0.min()),
                "asymmetry": float((seg0.max() + seg0.min()) / (seg0.max() - seg0.min())),
                "h2_h6_db": [round(float(r), 1) for r in rel],
                "even_minus_odd_db": round(float(10 * np.log10((even + 1e-30) / (odd + 1e-30))), 1),
                "thd_db": round(float(10 * np.log10(np.sum(h[1:] ** 2) / h[0] ** 2 + 1e-30)), 1),
            })
        out[name] = res
        print(f"[harmonics] {name}")
        for r in res:
            print("  {level_dbfs:4d} dBFS: +{out_peak_pos_V:.3g}/{out_peak_neg_V:.3g} V asym {asymmetry:+.2f}"
                  " THD {thd_db:6.1f} dB  H2..H6 {h2_h6_db}  even-odd {even_minus_odd_db:+.1f} dB".format(**r))
    return out


def gr_trace(x, y, block=48):
    n = len(x) // block
    gx = np.sqrt((x[:n * block].reshape(n, block) ** 2).mean(1))
    gy = np.sqrt((y[:n * block].reshape(n, block) ** 2).mean(1))
    return 20 * np.log10(gy / gx)  # one value per ms (1 kHz tone: one period per block)


def check_compressor(exe, jobs):
    name = "opto_compressor"
    f0 = 1000.0
    res = {"static": [], "steps": []}
    # static curve: each level held 1.5 s (after 5 s of warm-up at the first level)
    levels = [-40, -30, -24, -20, -16, -12, -9, -6, -3, -1]
    t = np.arange(int(3.0 * FS)) / FS
    x = np.concatenate([db(l) * np.sin(2 * np.pi * f0 * t) for l in levels])
    y = run(name, x, exe, jobs)
    g = gr_trace(x, y)
    for i, l in enumerate(levels):
        gr = -float(np.mean(g[i * 3000 + 2800: i * 3000 + 3000]))
        res["static"].append({"level_dbfs": l, "gain_reduction_db": round(gr, 2)})
    print("[compressor] static curve (1 kHz sine, peak dBFS -> gain reduction dB):")
    print("  " + ", ".join(f"{r['level_dbfs']}: {r['gain_reduction_db']:.1f}" for r in res["static"]))
    # level steps -30 -> -6 dBFS held for `hold`, back to -30; long quiet lead-in (6 s)
    for hold in (0.05, 0.3, 1.0, 3.0):
        lead, tail = 6.0, 5.0
        t = np.arange(int((lead + hold + tail) * FS)) / FS
        env = np.full(len(t), db(-30))
        env[(t >= lead) & (t < lead + hold)] = db(-6)
        x = env * np.sin(2 * np.pi * f0 * t)
        y = run(name, x, exe, jobs, warmup_s=0.0)
        g = -gr_trace(x, y)  # gain reduction, dB, per ms
        i0, i1 = int(lead * 1000), int((lead + hold) * 1000)
        base = float(np.mean(g[i0 - 200:i0]))
        peak = float(g[i1 - 1])
        att = int(np.argmax(g[i0:] >= base + 0.632 * (peak - base)))
        rel_seg = g[i1:]
        rel = int(np.argmax(rel_seg <= peak - 0.632 * (peak - base)))
        # exponential fit of the release between 80 % and 20 % of the excess reduction
        exc = rel_seg - base
        sel = (exc < 0.8 * (peak - base)) & (exc > 0.2 * (peak - base))
        idx = np.nonzero(sel)[0]
        tau_fit = None
        if len(idx) > 10:
            slope = np.polyfit(idx / 1000.0, np.log(exc[idx]), 1)[0]
            tau_fit = -1.0 / slope
        r = {"hold_s": hold, "base_gr_db": round(base, 2), "gr_at_end_of_hold_db": round(peak, 2),
             "attack_63pct_ms": att if hold >= 0.1 else None, "release_63pct_ms": rel,
             "release_tau_fit_ms": round(1000 * tau_fit) if tau_fit else None}
        res["steps"].append(r)
        print(f"[compressor] step -30 -> -6 dBFS held {hold:g} s: GR {base:.2f} -> {peak:.2f} dB; "
              f"attack 63% {r['attack_63pct_ms']} ms; release 63% {rel} ms (fit tau {r['release_tau_fit_ms']} ms)")
    return res


def test_signal(seconds=6.0, seed=7):
    """Loud, busy material: plucks, noise bursts, sines; capture scale (peak ~0.9)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = np.zeros(n)
    t = np.arange(n) / FS
    for k, (f, a, t0) in enumerate([(82.4, 0.9, 0.0), (196.0, 0.5, 1.0), (330.0, 0.7, 2.0), (110.0, 0.8, 4.5)]):
        N = int(FS / f)
        buf = rng.uniform(-1, 1, N)
        m = int(1.5 * FS)
        s = np.zeros(m)
        for i in range(m):
            s[i] = buf[i % N]
            buf[i % N] = 0.996 * 0.5 * (buf[i % N] + buf[(i + 1) % N])
        i0 = int(t0 * FS)
        x[i0:i0 + m] += a * s[:max(0, min(m, n - i0))] / np.abs(s).max()
    burst = (t > 3.0) & (t < 3.6)
    x[burst] += rng.standard_normal(burst.sum()) * 0.25
    x += 0.3 * np.sin(2 * np.pi * 440 * t) * ((t > 5.0) & (t < 5.5))
    return np.clip(x, -0.95, 0.95)


def check_chunks(exe, jobs, names):
    x = test_signal()
    res = {}
    for name in names:
        p = rt.read_params(rt.netlist_path(name))
        single = run(name, x, exe, jobs)
        chunked = run(name, x, exe, jobs, chunk_s=2.0)
        d = chunked - single
        snr = 10 * np.log10(np.sum(single ** 2) / max(np.sum(d ** 2), 1e-300))
        mx = 20 * np.log10(max(np.max(np.abs(d)), 1e-300) / np.max(np.abs(single)))
        res[name] = {"warmup_s": p["warmup_s"], "snr_db": round(float(snr), 1),
                     "max_abs_diff_db_re_peak": round(float(mx), 1)}
        print(f"[chunks] {name}: 2 s chunks, {p['warmup_s']:g} s warm-up vs single run: "
              f"SNR {snr:.1f} dB, max |diff| {mx:.1f} dB re peak")
    return res


def step_excerpts(capture):
    """1.5 s excerpts: the synthetic worst case (loud pluck + white-noise burst) and, when the
    capture exists, 1.5 s around the loudest sample of its noise-burst, guitar and drum parts."""
    ex = {"synthetic_white_noise": test_signal()[int(2.0 * FS):int(3.5 * FS)]}
    if capture and os.path.exists(capture):
        fs, x = rt.read_wav_mono(capture)
        for label, a, b in (("capture_noise_bursts", 20, 50), ("capture_guitar", 50, 80),
                            ("capture_drums", 130, 150)):
            c = a * fs + int(np.argmax(np.abs(x[a * fs:b * fs])))
            ex[label] = x[c - int(0.75 * fs):c + int(0.75 * fs)]
    return ex


def check_step(exe, jobs, names, capture):
    ex = step_excerpts(capture)
    res = {}
    for name in names:
        p = rt.read_params(rt.netlist_path(name))
        w = min(p["warmup_s"], 0.5)
        res[name] = {}
        for label, x in ex.items():
            ref = run(name, x, exe, jobs, warmup_s=w, tmax_div=16)
            y = run(name, x, exe, jobs, warmup_s=w)
            d = y - ref
            snr = 10 * np.log10(np.sum(ref ** 2) / max(np.sum(d ** 2), 1e-300))
            res[name][label] = round(float(snr), 1)
            print(f"[step] {name} {label}: max step 1/96000 vs 1/768000: SNR {snr:.1f} dB", flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", default="harmonics,compressor,chunks,step")
    ap.add_argument("--circuits", default=",".join(rt.all_circuits()))
    ap.add_argument("--capture", default=os.path.join(rt.cache_dir(), "capture", "capture_v1.wav"),
                    help="capture WAV for the step check's excerpts (skipped if missing)")
    args = ap.parse_args()
    exe, _ = rt.build_driver(rt.cache_dir())
    names = [c for c in args.circuits.split(",") if c]
    which = set(args.only.split(","))
    t0 = time.time()
    report = {}
    if "harmonics" in which:
        report["harmonics"] = check_harmonics(exe, args.jobs)
    if "compressor" in which:
        report["compressor"] = check_compressor(exe, args.jobs)
    if "chunks" in which:
        report["chunks"] = check_chunks(exe, args.jobs, names)
    if "step" in which:
        report["step"] = check_step(exe, args.jobs, names, args.capture)
    report["wall_s"] = round(time.time() - t0, 1)
    print(f"done in {report['wall_s']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
