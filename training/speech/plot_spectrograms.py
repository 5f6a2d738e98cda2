#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Spectrograms of a few held-out prompts: the real recording beside the voice
speaking the same text (docs/images/speech_spectrograms.png).

usage: plot_spectrograms.py CORPUS_DIR NAME=DIR [NAME=DIR ...] OUT.png [ID ...]
(DIR/<id>.wav, e.g. from `sidewinder speak`, one column per voice after the
recording's; default ids: three test prompts)
"""
import json
import os
import sys

import matplotlib
import numpy as np
from scipy.signal import spectrogram

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sidewinder_train.audio_io import read_wav  # noqa: E402


def main():
    args = sys.argv[1:]
    corpus = args.pop(0)
    voices = []
    while args and "=" in args[0]:
        voices.append(tuple(args.pop(0).split("=", 1)))
    if not voices or not args:
        sys.exit(__doc__)
    out, ids = args[0], args[1:] or ["conf-getpin", "vm-tomakecall", "demo-echodone"]
    texts = {}
    with open(os.path.join(corpus, "metadata.jsonl"), encoding="utf-8") as f:
        for line in f:
            it = json.loads(line)
            texts[it["id"]] = it["text"]
    cols = [("recording", os.path.join(corpus, "wav"))] + voices
    fig, axes = plt.subplots(len(ids), len(cols), figsize=(6.2 * len(cols), 2.6 * len(ids)), squeeze=False)
    for r, sid in enumerate(ids):
        for c, (label, folder) in enumerate(cols):
            x, rate = read_wav(os.path.join(folder, sid + ".wav"))
            f, t, S = spectrogram(x, rate, window="hann", nperseg=512, noverlap=384)
            ax = axes[r][c]
            ax.pcolormesh(t, f / 1000, 10 * np.log10(S + 1e-12), vmin=-110, vmax=-30, shading="auto", cmap="magma")
            ax.set_ylabel("kHz")
            ax.set_title(f"{label}: \u201c{texts[sid]}\u201d", fontsize=9)
    for c in range(len(cols)):
        axes[-1][c].set_xlabel("seconds")
    plt.tight_layout()
    plt.savefig(out, dpi=80)
    print("wrote", out)


if __name__ == "__main__":
    main()
