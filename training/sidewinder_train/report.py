# SPDX-License-Identifier: GPL-3.0-or-later
"""The report written next to a preset: PNG plots (loss curves, target vs
prediction excerpts, spectra) and metrics.json."""
import json
import os

import numpy as np


def write_report(out_dir, result, metrics, title, rate=48000):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import welch

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")

    h = result.history
    fig, ax = plt.subplots(figsize=(8, 4))
    if h:
        st = [r["step"] for r in h]
        ax.semilogy(st, [r["loss"] for r in h], label="training loss")
        ax.semilogy(st, [r["esr_pre"] for r in h], label="training ESR (pre-emphasis)")
        ax.semilogy(st, [r["val_esr"] for r in h], label="held-out ESR")
        ax.axvline(result.best_step, color="gray", ls=":", label=f"best (step {result.best_step})")
    ax.set_xlabel("step")
    ax.set_title(f"{title}: loss curves")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "loss.png"), dpi=80)
    plt.close(fig)

    y, p = result.val_target, result.val_prediction
    if y is None or p is None:
        return
    n = len(y)
    L = int(0.02 * rate)
    centres = [int(n * f) for f in (0.15, 0.45, 0.75)]
    fig, axes = plt.subplots(len(centres), 1, figsize=(9, 7))
    for ax, c in zip(axes, centres):
        a = max(0, min(n - L, c))
        seg = slice(a, a + L)
        tt = np.arange(L) / rate * 1e3
        ax.plot(tt, y[seg], label="target", lw=1.2)
        ax.plot(tt, p[seg], label="prediction", lw=1.0, ls="--")
        ax.plot(tt, y[seg] - p[seg], label="error", lw=0.8, alpha=0.7)
        ax.set_ylabel(f"@{a / rate:.2f} s")
    axes[0].legend(loc="upper right")
    axes[0].set_title(f"{title}: held-out excerpts (ESR {metrics.get('held_out_esr', float('nan')):.4g})")
    axes[-1].set_xlabel("ms")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "excerpts.png"), dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    for sig, lab in ((y, "target"), (p, "prediction"), (y - p, "error")):
        f, P = welch(sig, fs=rate, nperseg=4096)
        ax.semilogx(f[1:], 10 * np.log10(P[1:] + 1e-20), label=lab)
    ax.set_xlabel("Hz")
    ax.set_ylabel("dB")
    ax.set_title(f"{title}: held-out spectra (Welch)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "spectra.png"), dpi=80)
    plt.close(fig)
