#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes tests/data/demo_clip.wav: 3 s, 48 kHz, mono, 16-bit PCM, a seeded
Karplus-Strong plucked-string phrase, peak normalised to -6 dBFS. Deterministic.

    /usr/bin/python3 tests/reference/make_demo_clip.py
"""

import os
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "demo_clip.wav")
SR = 48000
SECONDS = 3.0
PEAK_DBFS = -6.0

# (onset s, MIDI note, velocity): a short A-minor phrase ending on a two-note chord
PHRASE = [(0.00, 57, 1.0), (0.30, 60, 0.8), (0.60, 64, 0.85), (0.90, 69, 0.9),
          (1.25, 67, 0.8), (1.55, 64, 0.75), (1.90, 57, 0.9), (1.92, 64, 0.7)]


def pluck(rng, freq, n, decay=0.996):
    """Karplus-Strong: a noise burst in a delay line of ~SR/freq samples, averaged and decayed."""
    P = max(2, int(round(SR / freq)))
    y = np.zeros(n + P)
    burst = rng.uniform(-1.0, 1.0, P)
    burst = np.convolve(burst, [0.5, 0.5], mode="same")        # slightly softer pick
    y[:P] = burst - burst.mean()
    # y[i] = decay * (y[i-P] + y[i-P-1]) / 2, computed one period (block of P) at a time
    for start in range(P, n + P, P):
        stop = min(start + P, n + P)
        i = np.arange(start, stop)
        y[i] = decay * 0.5 * (y[i - P] + y[i - P - 1])
    return y[:n]


def main():
    rng = np.random.default_rng(2024)
    n = int(SR * SECONDS)
    mix = np.zeros(n)
    for onset, midi, vel in PHRASE:
        f = 440.0 * 2.0 ** ((midi - 69) / 12.0)
        start = int(round(onset * SR))
        mix[start:] += vel * pluck(rng, f, n - start)
    fade = int(0.05 * SR)
    mix[-fade:] *= np.linspace(1.0, 0.0, fade)                   # end at silence
    mix *= 10.0 ** (PEAK_DBFS / 20.0) / np.max(np.abs(mix))
    pcm = np.round(mix * 32767.0).astype("<i2")
    with wave.open(OUT, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    peak = np.max(np.abs(pcm)) / 32768.0
    print(f"{OUT}: {n} samples, {SR} Hz, peak {20 * np.log10(peak):.2f} dBFS, "
          f"{os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
