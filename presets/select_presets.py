#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pick the shipped presets from the merged, re-measured candidates
(presets/evaluate_candidates.py over the runs of training/train_presets.py) by
measurement on this machine, and write them with their reports, the index and
the table of presets/README.md.

For each circuit: every SSM candidate's CPU cost is measured with
`sidewinder bench -m FILE` (block 64, median of --repeats runs, thread CPU
time), the LSTM baselines' with `sidewinder bench --lstm 16,40` (the
equivalent C++ LSTM). The preset is the candidate with the best held-out ESR
among those cheaper than LSTM-40; the "-lite" preset, where one exists, is the
best among those costing no more than LSTM-16.

  /usr/bin/python3 presets/select_presets.py --runs RUNS --cli build/release/cli/sidewinder
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
from sidewinder_train import safetensors_io  # noqa: E402

# circuit -> (preset name, title)
CIRCUITS = {
    "ts_overdrive": ("ts-overdrive", "TS-style overdrive"),
    "fuzz_face": ("fuzz-face", "Fuzz Face (silicon)"),
    "triode_preamp": ("triode-preamp", "12AX7 triode preamp stage"),
    "opto_compressor": ("opto-comp", "optical-style compressor (slow attack/release)"),
    "tonestack_clipper": ("tonestack-drive", "amp tone stack into a clipper"),
    "mxr_distortion_plus": ("dist-plus", "Distortion+ (germanium diodes)"),
}
BLOCK = 64


def bench(cli, args, repeats):
    out = subprocess.run([cli, "bench", *args, "--json", "--seconds", "2", "--repeats", str(repeats)],
                         check=True, capture_output=True, text=True).stdout
    d = json.loads(out)
    res = {}
    for m in d["models"]:
        for r in m["results"]:
            if r["block"] == BLOCK and r["mode"] == "streaming":
                res[m.get("name")] = r["ms_per_audio_second"]
    return res, d["machine"]


def netlist_summary(circuit):
    path = os.path.join(HERE, "circuits", circuit + ".cir")
    with open(path) as f:
        first = f.readline().strip().lstrip("*").strip()
    return first.split("--", 1)[1].strip() if "--" in first else first


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", required=True)
    p.add_argument("--cli", required=True)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=HERE)
    p.add_argument("--lite-max-esr", type=float, default=0.01,
                   help="ship a -lite preset only if its held-out ESR is at most this")
    a = p.parse_args()
    with open(os.path.join(a.runs, "summary.json")) as f:
        summary = json.load(f)
    lstm_cost, machine = bench(a.cli, ["--lstm", "16,40"], a.repeats)
    lstm16, lstm40 = lstm_cost["lstm-16"], lstm_cost["lstm-40"]
    print(f"LSTM-16 {lstm16:.2f} ms/s, LSTM-40 {lstm40:.2f} ms/s (block {BLOCK})")
    index = {"machine": machine, "block": BLOCK, "lstm16_ms": lstm16, "lstm40_ms": lstm40, "circuits": {}}
    os.makedirs(os.path.join(a.out, "reports"), exist_ok=True)
    for circuit in sorted(summary):
        if circuit not in CIRCUITS:
            print(f"skipping unknown circuit {circuit}")
            continue
        name, title = CIRCUITS[circuit]
        jobs = summary[circuit]
        cands = []
        for job, m in sorted(jobs.items()):
            if job.startswith("lstm"):
                continue
            f = os.path.join(a.runs, circuit, job + ".safetensors")
            cost, _ = bench(a.cli, ["-m", f], a.repeats)
            cands.append(dict(job=job, file=f, esr=m["held_out_esr"], ms=list(cost.values())[0],
                              parameters=m["parameters"], arch=m["arch"], size=m["size"]))
            print(f"{circuit} {job}: ESR {m['held_out_esr']:.4g}, {cands[-1]['ms']:.2f} ms/s")
        entry = {"title": title, "netlist": f"presets/circuits/{circuit}.cir", "candidates": cands,
                 "lstm16_esr": jobs.get("lstm16", {}).get("held_out_esr"),
                 "lstm40_esr": jobs.get("lstm40", {}).get("held_out_esr"), "shipped": []}
        main_pick = min((c for c in cands if c["ms"] < lstm40), key=lambda c: c["esr"], default=None)
        lite_pick = min((c for c in cands if c["ms"] <= lstm16 and c["esr"] <= a.lite_max_esr),
                        key=lambda c: c["esr"], default=None)
        picks = [(name, main_pick)]
        if lite_pick is not None and lite_pick is not main_pick:
            picks.append((name + "-lite", lite_pick))
        for pname, c in picks:
            if c is None:
                print(f"{circuit}: no candidate is cheaper than LSTM-40; nothing shipped")
                continue
            tensors, meta = safetensors_io.load(c["file"])
            meta.update(held_out_esr=f"{c['esr']:.6g}", held_out_esr_source="presets/evaluate_candidates.py (C++ engine)",
                        name=pname, description=f"{title}: {netlist_summary(circuit)}",
                        models=f"ngspice simulation of presets/circuits/{circuit}.cir",
                        license="GPL-3.0-or-later", author="Sidewinder project",
                        cpu_ms_per_second=f"{c['ms']:.3g}", cpu_reference=f"{machine['cpu']}, block {BLOCK}")
            safetensors_io.save(os.path.join(a.out, pname + ".safetensors"), tensors, meta)
            rep = os.path.join(a.out, "reports", pname)
            shutil.rmtree(rep, ignore_errors=True)
            shutil.copytree(c["file"][:-len(".safetensors")] + ".report", rep)
            entry["shipped"].append(dict(preset=pname, job=c["job"], esr=c["esr"], ms=c["ms"],
                                         parameters=c["parameters"], arch=c["arch"], size=c["size"]))
        for c in cands:
            c["file"] = os.path.relpath(c["file"], a.runs)
        index["circuits"][circuit] = entry
    with open(os.path.join(a.out, "presets.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    table = render_table(index) + "\n\nEvery candidate (held-out ESR re-measured with the C++ engine; CPU ms per " \
        "second of 48 kHz audio at block 64; ✓ = shipped):\n\n" + render_candidates(index)
    print(table)
    readme = os.path.join(a.out, "README.md")
    if os.path.exists(readme):
        with open(readme) as f:
            text = f.read()
        b, e = "<!-- table:begin -->", "<!-- table:end -->"
        if b in text and e in text:
            text = text[:text.index(b) + len(b)] + "\n" + table + "\n" + text[text.index(e):]
            with open(readme, "w") as f:
                f.write(text)


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def render_table(index):
    l16, l40 = index["lstm16_ms"], index["lstm40_ms"]
    rows = ["| preset | circuit | arch (size) | parameters | held-out ESR: SSM | LSTM-16 | LSTM-40 | "
            "CPU ms/s: SSM | LSTM-16 | LSTM-40 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for circuit, e in index["circuits"].items():
        for s in e["shipped"]:
            rows.append(f"| `{s['preset']}` | {e['title']} | {s['arch']} ({s['size']}) | {s['parameters']} | "
                        f"{s['esr']:.4f} | {fmt(e['lstm16_esr'], '.4f')} | {fmt(e['lstm40_esr'], '.4f')} | "
                        f"{s['ms']:.2f} | {l16:.2f} | {l40:.2f} |")
    return "\n".join(rows)


def render_candidates(index):
    rows = ["| circuit | candidate | arch | parameters | held-out ESR | CPU ms/s |", "|---|---|---|---|---|---|"]
    for circuit, e in index["circuits"].items():
        shipped = {s["job"] for s in e["shipped"]}
        for c in sorted(e["candidates"], key=lambda c: c["ms"]):
            mark = " ✓" if c["job"] in shipped else ""
            rows.append(f"| {circuit} | {c['job']}{mark} | {c['arch']} | {c['parameters']} | {c['esr']:.4f} | "
                        f"{c['ms']:.2f} |")
        for k in ("lstm16", "lstm40"):
            if e.get(k + "_esr") is not None:
                rows.append(f"| {circuit} | {k} (baseline) | LSTM | {1234 if k == 'lstm16' else 6922} | "
                            f"{e[k + '_esr']:.4f} | {index[k + '_ms']:.2f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
