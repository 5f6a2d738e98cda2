#!/usr/bin/env python3
"""Median of several `sidewinder bench --json` runs as the README's markdown table.

Usage: for i in 1 2 3 4 5; do sidewinder bench --json > run$i.json; done
       python3 scripts/bench_table.py run*.json
"""
# SPDX-License-Identifier: GPL-3.0-or-later
import json
import statistics
import sys


def main(paths):
    runs = [json.load(open(p)) for p in paths]
    m = runs[0]["machine"]
    peak = statistics.median(r["machine"]["peak_gflops"] for r in runs)
    pexp = statistics.median(r["machine"]["peak_gexp_per_s"] for r in runs)
    print(f"Machine: {m['cpu']}, {m['hardware_threads']} hardware threads, kernels `{m['kernels']}`, "
          f"one thread. Measured peak {peak:.1f} GFLOP/s (multiply-add) and {pexp:.2f} G exp/s. "
          f"Median of {len(runs)} runs of `sidewinder bench` (each figure itself the median of its repeats).\n")
    for mi, mod in enumerate(runs[0]["models"]):
        print(f"**{mod['name']}** — {mod['model']}; {mod['parameters']:.0f} parameters; "
              f"{mod['flops_per_sample']:.0f} FLOP + {mod['transcendentals_per_sample']:.0f} exp per sample\n")
        print("| mode | block | ms CPU per s of audio | × real time | roofline |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for ri, r in enumerate(mod["results"]):
            ms = statistics.median(run["models"][mi]["results"][ri]["ms_per_audio_second"] for run in runs)
            rf = statistics.median(run["models"][mi]["results"][ri]["roofline_fraction"] for run in runs)
            block = "64 Ki chunks" if r["mode"] == "offline" else str(r["block"])
            print(f"| {r['mode']} | {block} | {ms:.1f} | {1000 / ms:.1f} | {100 * rf:.0f} % |")
        print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
