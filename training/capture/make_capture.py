#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the standard Sidewinder capture signal (version 1).

Writes capture_v1.wav (48 kHz, mono, 24-bit PCM) and capture_v1.json (the layout, the sha256 of the
WAV, the versions of the tools and data used) to <cache>/capture/, where <cache> is
$SIDEWINDER_CACHE, else $XDG_CACHE_HOME/sidewinder, else ~/.cache/sidewinder. The layout itself
lives in training/sidewinder_train/capture_layout.py; docs/capture.md describes the signal.

Needs numpy, scipy, the fluidsynth program, the FluidR3_GM soundfont (Debian: fluid-soundfont-gm)
and Allison Smith's English prompts (Debian: asterisk-core-sounds-en-wav).

    python3 training/capture/make_capture.py [-o PATH.wav] [--seed N]

Deterministic: the same seed, tools and data give the same bytes.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
import scipy
import scipy.io.wavfile
import scipy.signal

HERE = Path(__file__).resolve().parent
LAYOUT_PATH = HERE.parent / "sidewinder_train" / "capture_layout.py"


def load_layout():
    # Loaded by path so that the trainer package's __init__ (and its imports) are not needed here.
    spec = importlib.util.spec_from_file_location("capture_layout", LAYOUT_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


L = load_layout()
FS = L.SAMPLE_RATE
DEFAULT_SEED = 20250101
DEFAULT_SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
DEFAULT_SPEECH = "/usr/share/asterisk/sounds/en"
FADE = 240  # 5 ms fades at every segment boundary

# General MIDI programs, 0-based as sent in a MIDI program change (GM's 1-based numbers in comments).
GTR_JAZZ, GTR_CLEAN = 26, 27  # GM 27 "Electric Guitar (jazz)", GM 28 "Electric Guitar (clean)"
BASS_FINGER, BASS_PICK = 33, 34  # GM 34 "Electric Bass (finger)", GM 35 "Electric Bass (pick)"
PIANO = 0  # GM 1 "Acoustic Grand Piano"
CH_GTR, CH_BASS, CH_PIANO, CH_DRUMS = 0, 1, 2, 9  # channel 9 (MIDI channel 10): percussion

# Speech files that are not speech.
NOT_SPEECH = {"beep.wav", "beeperr.wav", "ascending-2tone.wav", "descending-2tone.wav", "tt-monkeys.wav"}


def db(x):
    return 10.0 ** (x / 20.0)


def sec(t):
    return int(round(t * FS))


def rng_for(seed, stream):
    """An independent, reproducible generator per piece of content, so that editing one piece leaves
    the others unchanged."""
    return np.random.default_rng([seed, stream])


# ----------------------------------------------------------------------------------------------
# Standard MIDI file writer (format 0, one track). Times are in seconds: the tempo is fixed at
# 120 bpm with 960 ticks per quarter note, so one tick is 1/1920 s and musical tempo is free.

TICKS_PER_SECOND = 1920


class Midi:
    def __init__(self):
        self.notes = []  # (start_s, end_s, ch, key, vel)
        self.other = []  # (time_s, order, bytes)

    def note(self, t, dur, ch, key, vel):
        key = int(key)
        if 0 <= key <= 127 and dur > 0:
            self.notes.append((t, t + dur, ch, key, int(np.clip(round(vel), 30, 127))))

    def program(self, t, ch, prog):
        self.other.append((t, 1, bytes([0xC0 | ch, prog])))

    def cc(self, t, ch, ctrl, val):
        self.other.append((t, 1, bytes([0xB0 | ch, ctrl, int(val)])))

    def bend(self, t, ch, semitones):
        v = int(np.clip(round(8192 + semitones / 2.0 * 8191), 0, 16383))  # default bend range: 2 semitones
        self.other.append((t, 1, bytes([0xE0 | ch, v & 0x7F, v >> 7])))

    def setup(self, ch, prog):
        """Program, centred pan, full volume, no reverb/chorus send, at time 0."""
        if ch != CH_DRUMS:
            self.program(0.0, ch, prog)
        for ctrl, val in ((7, 110), (10, 64), (11, 127), (91, 0), (93, 0), (64, 0)):
            self.cc(0.0, ch, ctrl, val)
        self.bend(0.0, ch, 0.0)

    def to_bytes(self, end_s):
        tick = lambda t: int(round(t * TICKS_PER_SECOND))
        ev = [(tick(t), order, data) for t, order, data in self.other]
        # A repeated key on one channel ends the previous note first (no overlapping same-key notes).
        by_key = {}
        for n in sorted(self.notes):
            by_key.setdefault((n[2], n[3]), []).append(n)
        for (ch, key), ns in by_key.items():
            for i, (s, e, _, _, vel) in enumerate(ns):
                ts, te = tick(s), tick(e)
                if i + 1 < len(ns):
                    te = min(te, tick(ns[i + 1][0]))
                if te <= ts:
                    continue
                ev.append((ts, 2, bytes([0x90 | ch, key, vel])))
                ev.append((te, 0, bytes([0x80 | ch, key, 0])))
        ev.sort(key=lambda e: (e[0], e[1], e[2]))
        trk = bytearray()
        trk += vlq(0) + bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big")  # 120 bpm
        now = 0
        for tk, _, data in ev:
            trk += vlq(tk - now) + data
            now = tk
        trk += vlq(max(0, tick(end_s) - now)) + bytes([0xFF, 0x2F, 0x00])
        return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 960) + b"MTrk" + struct.pack(">I", len(trk)) + bytes(trk)


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


# ----------------------------------------------------------------------------------------------
# Music. Each generator writes notes into a Midi between t0 and t0 + dur (seconds) and returns the
# time its last note ends.

CHORDS = {  # guitar voicings, low string to high
    "E": [40, 47, 52, 56, 59, 64], "A": [45, 52, 57, 61, 64], "D": [50, 57, 62, 66], "G": [43, 47, 50, 55, 59, 67],
    "C": [48, 52, 55, 60, 64], "Am": [45, 52, 57, 60, 64], "Em": [40, 47, 52, 55, 59, 64], "Dm": [50, 57, 62, 65],
    "F": [41, 48, 53, 57, 60, 65], "B7": [47, 51, 57, 59, 66], "Bm": [47, 54, 59, 62, 66],
    "E7": [40, 47, 50, 56, 59, 64],
    "Fmaj7": [41, 45, 48, 52], "Cmaj7": [48, 52, 55, 59, 64], "Am7": [45, 52, 55, 60, 64], "Dm7": [50, 57, 60, 65],
    "G7": [43, 47, 50, 55, 59, 65],
}
ROOT = {"E": 40, "A": 45, "D": 38, "G": 43, "C": 36, "F": 41, "B": 35}
PROGRESSIONS = [
    ["E", "A", "B7", "E"], ["G", "D", "Em", "C"], ["Am", "F", "C", "G"], ["D", "G", "A", "D"],
    ["C", "Am", "Dm", "G"], ["Em", "C", "G", "D"], ["Am7", "Dm7", "G7", "Cmaj7"], ["A", "E", "Bm", "D"],
]
PENTA = [0, 3, 5, 7, 10, 12, 15, 17, 19, 22, 24, 27]
MAJOR = [0, 2, 4, 5, 7, 9, 11]
STRUMS = ["D.DU.UDU", "D.D.DUDU", "D..UDUDU", "DUDUDUDU", "D.DUD.DU", "D...D.DU"]


def chord_root(name):
    return ROOT[name[0]] - (12 if ROOT[name[0]] >= 40 else 0)


def chord_tones(name):
    """Pitch classes relative to the root: triad plus sevenths where named."""
    minor = name[1:2] == "m" and not name.startswith("maj", 1)
    tones = [0, 3 if minor else 4, 7]
    if name.endswith("maj7"):
        tones.append(11)
    elif name.endswith("7"):
        tones.append(10)
    return tones


def vel_of(rng, base, accent=0.0, spread=8.0):
    return base + accent + rng.normal(0.0, spread)


def gtr_strum(m, rng, t0, dur, vel, ch=CH_GTR, bpm=None, prog=None):
    bpm = bpm or rng.uniform(88, 132)
    eighth = 30.0 / bpm
    prog = prog or PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    hits = []  # (time, direction, chord, muted)
    t, bar = t0, 0
    while t < t0 + dur - 0.3:
        pat = STRUMS[rng.integers(len(STRUMS))]
        chord = prog[bar % len(prog)]
        for i, c in enumerate(pat):
            tt = t + i * eighth
            if c != "." and tt < t0 + dur - 0.3:
                hits.append((tt, c, chord, rng.random() < 0.12, i))
        t += 8 * eighth
        bar += 1
    end = t0
    for k, (tt, direction, chord, muted, i) in enumerate(hits):
        nxt = hits[k + 1][0] if k + 1 < len(hits) else min(tt + 4 * eighth, t0 + dur)
        strings = CHORDS[chord] if direction == "D" else CHORDS[chord][-rng.integers(3, 5):][::-1]
        spread = rng.uniform(0.006, 0.014) if direction == "D" else rng.uniform(0.005, 0.010)
        accent = 12.0 if i % 4 == 0 else (4.0 if i % 2 == 0 else -8.0)
        v = vel_of(rng, vel, accent)
        for s, key in enumerate(strings):
            on = tt + s * spread
            length = 0.06 if muted else max(0.05, nxt - on - 0.01)
            m.note(on, length, ch, key, v - s * rng.uniform(0, 2))
            end = max(end, on + length)
    return end


def gtr_riff(m, rng, t0, dur, vel, ch=CH_GTR, bpm=None):
    bpm = bpm or rng.uniform(80, 120)
    q = 60.0 / bpm
    root = [40, 43, 45, 47, 50][rng.integers(5)]
    idx = int(rng.integers(2, 7))
    t, end = t0, t0
    while t < t0 + dur - 0.25:
        step = q / 2 if rng.random() < 0.6 else q / 4
        if rng.random() < 0.1:
            step = q
        if rng.random() < 0.12:  # rest
            t += step
            continue
        idx = int(np.clip(idx + rng.integers(-2, 3), 0, len(PENTA) - 1))
        key = root + PENTA[idx]
        length = step * rng.uniform(0.55, 0.95) if step < q else step * 1.6
        length = min(length, t0 + dur - t)
        v = vel_of(rng, vel, 8.0 if abs((t - t0) / q - round((t - t0) / q)) < 1e-6 else 0.0)
        m.note(t, length, ch, key, v)
        if rng.random() < 0.12:  # double stop a fourth above
            m.note(t, length, ch, key + 5, v - 6)
        if step >= q / 2 and length > 0.2 and rng.random() < 0.25:  # bend up a whole step and back
            for j in range(9):
                a = j / 8.0
                m.bend(t + 0.04 + a * 0.12, ch, 2.0 * a)
            m.bend(t + length, ch, 0.0)
        end = max(end, t + length)
        t += step
    return end


def gtr_arp(m, rng, t0, dur, vel, ch=CH_GTR, bpm=None):
    bpm = bpm or rng.uniform(70, 110)
    eighth = 30.0 / bpm
    prog = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    order_kinds = [[0, 2, 3, 4, 3, 2, 1, 2], [0, 1, 2, 3, 4, 3, 2, 1], [0, 3, 2, 4, 1, 3, 2, 4]]
    t, bar, end = t0, 0, t0
    while t < t0 + dur - 0.4:
        voicing = CHORDS[prog[bar % len(prog)]]
        order = order_kinds[rng.integers(len(order_kinds))]
        bar_end = min(t + 8 * eighth, t0 + dur)
        for i, o in enumerate(order):
            tt = t + i * eighth
            if tt >= t0 + dur - 0.3:
                break
            key = voicing[min(o, len(voicing) - 1)]
            m.note(tt, bar_end - tt, ch, key, vel_of(rng, vel, 6.0 if i % 4 == 0 else 0.0, 6.0))
            end = max(end, bar_end)
        t += 8 * eighth
        bar += 1
    return end


def bass_line(m, rng, t0, dur, vel, ch=CH_BASS, style=None, bpm=None, prog=None):
    style = style or ["roots", "walk", "synco"][rng.integers(3)]
    bpm = bpm or rng.uniform(85, 125)
    q = 60.0 / bpm
    prog = prog or PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    t, bar, end = t0, 0, t0
    while t < t0 + dur - 0.3:
        name = prog[bar % len(prog)]
        root = chord_root(name)
        root = root if root >= 28 else root + 12
        tones = chord_tones(name)
        if style == "roots":
            steps = [(i * q / 2, q / 2 * 0.85, root + (12 if i in (3, 7) and rng.random() < 0.5 else 0)
                      + (7 if i == 6 and rng.random() < 0.5 else 0)) for i in range(8)]
        elif style == "walk":
            nxt = chord_root(prog[(bar + 1) % len(prog)])
            nxt = nxt if nxt >= 28 else nxt + 12
            keys = [root, root + tones[rng.integers(1, len(tones))], root + 7, nxt + (1 if rng.random() < 0.5 else -1)]
            steps = [(i * q, q * 0.9, k) for i, k in enumerate(keys)]
        else:
            steps = []
            for i in range(16):
                if rng.random() < (0.9 if i % 4 == 0 else 0.45):
                    k = root + [0, 0, 12, 7, 10, 5][rng.integers(6)]
                    steps.append((i * q / 4, q / 4 * rng.uniform(0.4, 0.9), k))
        for off, length, key in steps:
            tt = t + off
            if tt >= t0 + dur - 0.25:
                break
            ghost = style == "synco" and rng.random() < 0.2
            v = vel_of(rng, vel, (-25.0 if ghost else (8.0 if off == 0 else 0.0)), 7.0)
            m.note(tt, min(length, t0 + dur - tt), ch, key, v)
            end = max(end, tt + length)
        t += 4 * q
        bar += 1
    return end


def piano_part(m, rng, t0, dur, vel, ch=CH_PIANO, style=None, bpm=None, prog=None):
    style = style or ["chords", "arp", "stabs", "ballad"][rng.integers(4)]
    bpm = bpm or rng.uniform(70, 120)
    q = 60.0 / bpm
    prog = prog or PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    t, bar, end = t0, 0, t0
    while t < t0 + dur - 0.4:
        name = prog[bar % len(prog)]
        r = chord_root(name) % 12
        tones = chord_tones(name)
        lh = 36 + r if 36 + r <= 43 else 24 + r
        rh = [60 + ((r + x) % 12) for x in tones]
        rh = sorted(k if k >= 58 else k + 12 for k in rh)
        bar_end = min(t + 4 * q, t0 + dur)
        if style == "ballad":
            m.cc(t + 0.01, ch, 64, 0)
            m.cc(t + 0.03, ch, 64, 127)
        if style in ("chords", "ballad"):
            m.note(t, bar_end - t, ch, lh, vel_of(rng, vel, 5.0))
            m.note(t, bar_end - t, ch, lh + 12, vel_of(rng, vel, 0.0))
            hits = [0, 2] if style == "ballad" else [0, 1, 2, 3] if rng.random() < 0.5 else [0, 1.5, 2.5, 3]
            for h in hits:
                tt = t + h * q
                if tt < t0 + dur - 0.3:
                    length = (2 * q if style == "ballad" else q * 0.9)
                    for k in rh:
                        m.note(tt + rng.uniform(0, 0.012), min(length, bar_end - tt), ch, k,
                               vel_of(rng, vel, 4.0 if h == 0 else -4.0, 6.0))
        elif style == "arp":
            pattern = [lh, lh + 7, lh + 12, lh + 16 if 4 in tones else lh + 15] * 2
            for i, k in enumerate(pattern):
                tt = t + i * q / 2
                if tt < t0 + dur - 0.3:
                    m.note(tt, min(q, bar_end - tt), ch, k, vel_of(rng, vel - 8, 0.0, 6.0))
            for i in range(int(rng.integers(2, 5))):  # right-hand melody on chord and scale tones
                tt = t + i * q * rng.choice([1.0, 0.5, 1.5])
                if tt < t0 + dur - 0.3:
                    k = 72 + (r + MAJOR[rng.integers(7)]) % 12
                    m.note(tt, min(q * 1.5, bar_end - tt), ch, k, vel_of(rng, vel, 6.0, 6.0))
        else:  # stabs
            for i in range(8):
                if rng.random() < (0.8 if i in (0, 3, 6) else 0.3):
                    tt = t + i * q / 2
                    if tt < t0 + dur - 0.3:
                        for k in [lh, lh + 12] + rh:
                            m.note(tt, q * 0.3, ch, k, vel_of(rng, vel, 6.0 if i == 0 else 0.0, 5.0))
        end = max(end, bar_end)
        t += 4 * q
        bar += 1
    if style == "ballad":
        m.cc(min(end, t0 + dur) - 0.02, ch, 64, 0)
    return end


KICK, SNARE, HAT, HAT_OPEN, CRASH, RIDE = 36, 38, 42, 46, 49, 51
TOMS = [50, 48, 47, 45, 43, 41]


def drum_bars(m, rng, t0, bpm, bars, vel, style="rock", crash_first=True, end_crash=True, ch=CH_DRUMS):
    """bars of a beat, the last one a fill; returns the end time (with the crash's ring)."""
    q = 60.0 / bpm
    s16 = q / 4
    t = t0
    if crash_first:
        m.note(t, 1.0, ch, CRASH, vel_of(rng, vel, 12.0))
    for b in range(bars):
        fill = b == bars - 1
        cym = RIDE if style == "ride" else HAT
        for i in range(16):
            tt = t + i * s16
            if fill and i >= 8:
                if rng.random() < 0.85:
                    drum = SNARE if i < 10 else TOMS[min(len(TOMS) - 1, (i - 10) * len(TOMS) // 6)]
                    m.note(tt, s16, ch, drum, vel_of(rng, vel, (i - 8) * 3.0, 6.0))
                if i == 8:
                    m.note(tt, s16, ch, KICK, vel_of(rng, vel, 5.0))
                continue
            if i % 2 == 0:
                if style == "toms":
                    if i % 4 == 0:
                        m.note(tt, s16, ch, TOMS[(i // 4) % 2 + 3], vel_of(rng, vel, 4.0))
                else:
                    open_hat = style == "rock" and i == 14 and rng.random() < 0.4
                    m.note(tt, 2 * s16, ch, HAT_OPEN if open_hat else cym,
                           vel_of(rng, vel, 10.0 if i % 4 == 0 else -10.0, 6.0))
            snare_on = (8,) if style == "half" else (4, 12)
            if i in snare_on:
                m.note(tt, s16, ch, SNARE, vel_of(rng, vel, 10.0))
            elif style != "toms" and rng.random() < 0.12:
                m.note(tt, s16, ch, SNARE, rng.uniform(30, 45))  # ghost note
            if i in (0, 8) or (i in (6, 10, 11, 14) and rng.random() < 0.35):
                m.note(tt, s16, ch, KICK, vel_of(rng, vel, 6.0 if i in (0, 8) else -4.0))
        t += 16 * s16
    if not end_crash:
        return t + 0.2
    m.note(t, 1.2, ch, CRASH, vel_of(rng, vel, 15.0))
    m.note(t, s16, ch, KICK, vel_of(rng, vel, 10.0))
    return t + 1.2


# ----------------------------------------------------------------------------------------------
# Rendering and levels


def fluidsynth_version(exe):
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else "unknown"


class Synth:
    def __init__(self, exe, sf2, workdir):
        self.exe, self.sf2, self.dir, self.n = exe, sf2, Path(workdir), 0

    def render(self, midi, n_samples):
        """Render a Midi to n_samples of mono float64 (reverb and chorus off, float output: no dither)."""
        self.n += 1
        mid = self.dir / ("part%02d.mid" % self.n)
        raw = self.dir / ("part%02d.raw" % self.n)
        mid.write_bytes(midi.to_bytes(n_samples / FS))
        cmd = [self.exe, "-n", "-i", "-q", "-R", "0", "-C", "0", "-r", str(FS), "-g", "0.4",
               "-o", "synth.cpu-cores=1", "-o", "synth.polyphony=256", "-o", "player.timing-source=sample",
               "-O", "float", "-T", "raw", "-E", "little", "-F", str(raw), self.sf2, str(mid)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        x = np.fromfile(raw, dtype="<f4").astype(np.float64).reshape(-1, 2).mean(axis=1)
        out = np.zeros(n_samples)
        out[: min(n_samples, len(x))] = x[:n_samples]
        return highpass(out)


_HP = scipy.signal.butter(2, 15.0, "highpass", fs=FS, output="sos")


def highpass(x):
    """Removes DC and subsonics (zero phase)."""
    return scipy.signal.sosfiltfilt(_HP, x)


def phrase_gains(y, phrases, targets_db):
    """Scale each phrase of y to its peak target. phrases: [(t_start, t_end)] in seconds from the
    start of y, in order, with gaps between; gains change (over 20 ms) in the middle of the gaps."""
    bounds = [0]
    for (s0, e0), (s1, _) in zip(phrases, phrases[1:]):
        bounds.append(sec((e0 + s1) / 2.0))
    bounds.append(len(y))
    g = np.zeros(len(y))
    for k, target in enumerate(targets_db):
        a, b = bounds[k], bounds[k + 1]
        pk = np.max(np.abs(y[a:b]))
        g[a:b] = db(target) / pk if pk > 0 else 0.0
    return y * smooth(g, 960)


def smooth(g, n):
    """Moving average of length n (centred): turns steps into linear ramps of n samples."""
    c = np.concatenate(([0.0], np.cumsum(np.concatenate((np.full(n // 2, g[0]), g, np.full(n - n // 2, g[-1]))))))
    return (c[n:n + len(g)] - c[:len(g)]) / n


def fade_in(n):
    """Raised-cosine ramp from 0 to 1 over n samples."""
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)


def fade(x, n=FADE):
    """x with n-sample raised-cosine fades at both ends (5 ms by default)."""
    x = x.copy()
    w = fade_in(n)
    x[:n] *= w
    x[-n:] *= w[::-1]
    return x


def normalise(x, peak_db):
    pk = np.max(np.abs(x))
    return x * (db(peak_db) / pk) if pk > 0 else x


# ----------------------------------------------------------------------------------------------
# Synthetic signals


def log_sweep(n, f1=20.0, f2=20000.0):
    """Exponential sine sweep (Farina) from f1 to f2 over n samples, starting at phase 0."""
    t = np.arange(n) / FS
    T = n / FS
    k = np.log(f2 / f1)
    return np.sin(2 * np.pi * f1 * T / k * (np.exp(t / T * k) - 1.0))


def sweeps(n_total, levels_db, sweep_s, gap_s):
    out = np.zeros(n_total)
    pos = 0
    info = []
    for lvl in levels_db:
        pos += sec(gap_s)
        n = sec(sweep_s)
        y = log_sweep(n)
        y[:sec(0.05)] *= fade_in(sec(0.05))  # one period of 20 Hz: keeps DC out
        out[pos:pos + n] = fade(y) * db(lvl)
        info.append({"start": pos, "end": pos + n, "peak_dbfs": lvl})  # from the segment's start
        pos += n
    assert pos <= n_total
    return out, info


def pink_noise(rng, n):
    """Gaussian noise with a 1/f power spectrum above 20 Hz (falling 12 dB/octave below), unit RMS,
    clipped at 3.5 sigma."""
    w = rng.standard_normal(n)
    spec = np.fft.rfft(w)
    f = np.fft.rfftfreq(n, 1.0 / FS)
    shape = 1.0 / np.sqrt(np.maximum(f, 20.0)) * np.minimum(f / 20.0, 1.0) ** 2
    x = np.fft.irfft(spec * shape, n)
    x /= np.sqrt(np.mean(x * x))
    return np.clip(x, -3.5, 3.5)


def bursts(rng, n_total, plan):
    """plan: list of (seconds, source, level_db) with source "pink", a tone frequency in Hz, or None for
    silence. Pink levels are dBFS RMS; tone levels are dBFS peak. Level steps take 1 ms."""
    noise = pink_noise(rng, n_total)
    sources = {}
    pos = 0
    for seconds, src, lvl in plan:
        n = sec(seconds)
        if src is not None:
            sources.setdefault(src, np.zeros(n_total))[pos:pos + n] = db(lvl)
        pos += n
    assert pos <= n_total - FADE, (pos, n_total)
    idx = np.arange(n_total)
    out = np.zeros(n_total)
    for src, g in sorted(sources.items(), key=lambda kv: str(kv[0])):
        sig = noise if src == "pink" else np.sin(2 * np.pi * float(src) * idx / FS)
        out += sig * smooth(g, 48)
    return out


def burst_unit(base, step, hold, src="pink", pre=0.6, post=1.0, gap=0.25):
    """base level, a step of `step` dB held for `hold` s (attack), back to base (release), silence."""
    return [(pre, src, base), (hold, src, base + step), (post, src, base), (gap, None, 0.0)]


def train_burst_plan():
    plan = [(0.3, None, 0.0)]
    # Pink noise: level jumps of +12..+24 dB held 50 ms .. 2 s.
    for base, step, hold in ((-40, 24, 0.05), (-34, 18, 0.1), (-30, 12, 0.2), (-42, 24, 0.5), (-28, 12, 1.0),
                             (-36, 18, 2.0)):
        plan += burst_unit(base, step, hold)
    # Tone bursts, up and down.
    for f, base, step, hold in ((1000, -30, 24, 0.3), (150, -28, 18, 1.0), (3000, -20, 12, 0.1), (440, -4, -24, 0.8),
                                (80, -10, -18, 0.4)):
        plan += burst_unit(base, step, hold, src=f, pre=0.4, post=0.6, gap=0.25)
    # Pink staircase: static curve, up then down in 6 dB steps.
    for lvl in list(range(-52, -15, 6)) + list(range(-22, -53, -6)):
        plan.append((0.4, "pink", lvl))
    return plan


def val_burst_plan():
    plan = [(0.2, None, 0.0)]
    plan += burst_unit(-38, 20, 0.3, pre=0.4, post=0.8, gap=0.2)
    plan += burst_unit(-26, 16, 0.15, src=700, pre=0.4, post=0.6, gap=0.2)
    plan += [(0.25, "pink", -20), (0.25, "pink", -44)]
    return plan


# ----------------------------------------------------------------------------------------------
# Speech


def speech_candidates(speech_dir):
    out = []
    for p in sorted(Path(speech_dir).glob("*.wav")):
        if p.name in NOT_SPEECH:
            continue
        sr, x = scipy.io.wavfile.read(p)
        if x.ndim == 1 and 1.5 * sr <= len(x) <= 8 * sr:
            out.append(p)
    if len(out) < 48:
        raise SystemExit("too few speech files in %s (need asterisk-core-sounds-en-wav)" % speech_dir)
    return out


def load_speech(path):
    sr, x = scipy.io.wavfile.read(path)
    x = x.astype(np.float64) / 32768.0
    if sr != FS:
        g = np.gcd(sr, FS)
        x = scipy.signal.resample_poly(x, FS // g, sr // g)
    x = highpass(x)
    a = np.abs(x)
    on = np.nonzero(a > 0.03 * a.max())[0]
    lo, hi = max(0, on[0] - sec(0.03)), min(len(x), on[-1] + sec(0.05))
    return fade(x[lo:hi])


def speech(files, n_total, peaks_db, gap_s=0.3):
    """Concatenates whole files that fit, each scaled to the next peak level; returns signal, names."""
    out = np.zeros(n_total)
    pos = sec(0.2)
    used = []
    for path in files:
        x = load_speech(path)
        if pos + len(x) > n_total - sec(0.1):
            continue
        out[pos:pos + len(x)] = normalise(x, peaks_db[len(used) % len(peaks_db)])
        used.append(path.name)
        pos += len(x) + sec(gap_s)
    return out, used


# ----------------------------------------------------------------------------------------------
# The capture


def seq(spans, gap):
    """Start times for phrases of the given lengths, one gap between each, starting at gap."""
    t, out = gap, []
    for d in spans:
        out.append(t)
        t += d + gap
    return out


def build(seed, synth, speech_dir):
    N = L.total_samples()
    x = np.zeros(N)
    notes = {}
    r = lambda k: rng_for(seed, k)
    seg = {s.name: s for s in L.SEGMENTS}
    size = lambda name: seg[name].end_sample - seg[name].start_sample

    def absolute(name, info):
        return [{"start_sample": seg[name].start_sample + i["start"], "end_sample": seg[name].start_sample + i["end"],
                 "peak_dbfs": i["peak_dbfs"]} for i in info]

    def put(name, y, do_fade=True):
        s = seg[name]
        assert len(y) == s.end_sample - s.start_sample
        x[s.start_sample:s.end_sample] = fade(y) if do_fade else y

    # Sync: impulses in silence, head and tail identical.
    for s in L.segments("sync"):
        y = np.zeros(size(s.name))
        y[list(L.IMPULSE_OFFSETS)] = L.IMPULSE_AMPLITUDE
        put(s.name, y, do_fade=False)

    # Sweeps.
    y, info = sweeps(size("train_sweeps"), [-30, -18, -9, -3], 4.0, 0.5)
    put("train_sweeps", y)
    notes["train_sweeps"] = {"sweeps": absolute("train_sweeps", info), "f1": 20.0, "f2": 20000.0}
    y, info = sweeps(size("val_sweep"), [-12], 2.0, 0.5)
    put("val_sweep", y)
    notes["val_sweep"] = {"sweeps": absolute("val_sweep", info), "f1": 20.0, "f2": 20000.0}

    # Noise and tone bursts.
    put("train_noise_bursts", bursts(r(1), size("train_noise_bursts"), train_burst_plan()))
    put("val_noise_bursts", bursts(r(101), size("val_noise_bursts"), val_burst_plan()))

    # Guitar: clean then jazz; velocities and peak levels vary per phrase.
    gr = r(2)
    spans = [4.4] * 6
    starts = seq(spans, 0.45)
    gens = [gtr_strum, gtr_riff, gtr_arp, gtr_riff, gtr_strum, gtr_arp]
    vels = [45, 80, 110, 35, 125, 70]
    peaks = [-12, -6, -2, -9, -1, -4]
    items = [(g, t, d, p, {"rng": gr, "vel": v}) for g, t, d, p, v in zip(gens, starts, spans, peaks, vels)]
    m = Midi()
    m.setup(CH_GTR, GTR_CLEAN)
    m.program(starts[3] - 0.2, CH_GTR, GTR_JAZZ)
    y = phrase_gains_from(synth, m, items, size("train_guitar"))
    put("train_guitar", y)

    # Bass: finger then pick.
    br = r(3)
    spans = [4.3] * 5
    starts = seq(spans, 0.45)
    styles = ["roots", "walk", "synco", "roots", "synco"]
    vels = [50, 95, 70, 125, 35]
    peaks = [-10, -3, -7, -1, -12]
    items = [(bass_line, t, d, p, {"rng": br, "vel": v, "style": st})
             for t, d, p, v, st in zip(starts, spans, peaks, vels, styles)]
    m = Midi()
    m.setup(CH_BASS, BASS_FINGER)
    m.program(starts[3] - 0.2, CH_BASS, BASS_PICK)
    put("train_bass", phrase_gains_from(synth, m, items, size("train_bass")))

    # Piano.
    pr = r(4)
    spans = [4.4] * 4
    starts = seq(spans, 0.5)
    styles = ["chords", "stabs", "ballad", "arp"]
    vels = [70, 120, 35, 90]
    peaks = [-8, -1, -12, -4]
    items = [(piano_part, t, d, p, {"rng": pr, "vel": v, "style": st})
             for t, d, p, v, st in zip(starts, spans, peaks, vels, styles)]
    m = Midi()
    m.setup(CH_PIANO, PIANO)
    put("train_piano", phrase_gains_from(synth, m, items, size("train_piano")))

    # Drums: a rock beat with fills, at three tempi and levels.
    dr = r(5)
    m = Midi()
    m.setup(CH_DRUMS, 0)
    plan = [(96, 2, 60, "rock", -10), (132, 4, 112, "rock", -1), (84, 1, 90, "toms", -5)]
    t, phrases, targets = 0.3, [], []
    for bpm, bars, vel, style, peak in plan:
        end = drum_bars(m, dr, t, bpm, bars, vel, style)
        phrases.append((t, end))
        targets.append(peak)
        t = end + 0.2
    assert t < size("train_drums") / FS, t
    put("train_drums", phrase_gains(synth.render(m, size("train_drums")), phrases, targets))

    # Speech: whole prompts, sorted by name, every 24th file (validation: offset by 12).
    cands = speech_candidates(speech_dir)
    y, used = speech(cands[0::24], size("train_speech"), [-6, -14, -3, -9, -1, -18, -4, -11])
    put("train_speech", y)
    notes["train_speech"] = {"files": used}
    y, used = speech(cands[12::24], size("val_speech"), [-5])
    put("val_speech", y)
    notes["val_speech"] = {"files": used}

    # Mixed: a band (guitar, bass, piano, drums), quiet for two bars then loud for three.
    mr = r(6)
    m = Midi()
    for ch, prog in ((CH_GTR, GTR_CLEAN), (CH_BASS, BASS_FINGER), (CH_PIANO, PIANO), (CH_DRUMS, 0)):
        m.setup(ch, prog)
    bpm, prog = 128.0, ["Am", "F", "C", "G"]
    bar = 240.0 / bpm
    for t0, bars, vel in ((0.15, 2, 42), (0.15 + 2 * bar, 3, 112)):
        d = bars * bar
        gtr_strum(m, mr, t0, d, vel, bpm=bpm, prog=prog)
        bass_line(m, mr, t0, d, vel, style="roots", bpm=bpm, prog=prog)
        piano_part(m, mr, t0, d, vel - 10, style="chords", bpm=bpm, prog=prog)
        end = drum_bars(m, mr, t0, bpm, bars, vel, "rock", crash_first=t0 > 1.0)
    assert end < size("train_mixed") / FS
    put("train_mixed", normalise(synth.render(m, size("train_mixed")), -2))

    # Validation instruments: their own seeds, so different notes from training.
    m = Midi()
    m.setup(CH_GTR, GTR_CLEAN)
    put("val_guitar", phrase_gains_from(synth, m, [(gtr_riff, 0.2, 2.5, -4, {"rng": r(102), "vel": 90})],
                                        size("val_guitar")))
    m = Midi()
    m.setup(CH_BASS, BASS_FINGER)
    items = [(bass_line, 0.2, 2.0, -5, {"rng": r(103), "vel": 85, "style": "walk"})]
    put("val_bass", phrase_gains_from(synth, m, items, size("val_bass")))
    m = Midi()
    m.setup(CH_PIANO, PIANO)
    items = [(piano_part, 0.2, 2.0, -3, {"rng": r(104), "vel": 80, "style": "arp"})]
    put("val_piano", phrase_gains_from(synth, m, items, size("val_piano")))
    m = Midi()
    m.setup(CH_DRUMS, 0)
    end = drum_bars(m, r(105), 0.15, 126, 1, 100, "rock", end_crash=False)
    assert end < size("val_drums") / FS
    put("val_drums", normalise(synth.render(m, size("val_drums")), -2))

    # Repeat pair: a clean guitar phrase then a loud noise burst, twice, sample for sample.
    n_rep = size("repeat_a")
    pad = L.REPEAT_PAD
    body_n = n_rep - 2 * pad
    m = Midi()
    m.setup(CH_GTR, GTR_CLEAN)
    gtr_riff(m, r(7), 0.02, 2.2, 105)
    gtr = normalise(synth.render(m, sec(2.45)), -4)
    body = np.zeros(body_n)
    body[:len(gtr)] = fade(gtr)
    b0 = sec(2.5)
    burst = fade(pink_noise(r(8), sec(0.4)) * db(-14), 96)
    body[b0:b0 + len(burst)] = burst
    body = fade(body)
    rep = np.concatenate((np.zeros(pad), body, np.zeros(pad)))
    put("repeat_a", rep, do_fade=False)
    put("repeat_b", rep, do_fade=False)
    return x, notes


def phrase_gains_from(synth, m, items, n):
    phrases, targets = [], []
    for gen, t0, dur, peak, kw in items:
        end = gen(m, t0=t0, dur=dur, **kw)
        phrases.append((t0, end))
        targets.append(peak)
    assert phrases[-1][1] < n / FS, (phrases[-1], n / FS)
    return phrase_gains(synth.render(m, n), phrases, targets)


def write_wav24(path, x):
    q = np.clip(np.round(x * 8388608.0), -8388608, 8388607).astype("<i4")
    data = q.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(3)
        w.setframerate(FS)
        w.writeframes(data)
    return q


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dpkg_version(pkg):
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
        return r.stdout.strip() or None
    except OSError:
        return None


def cache_dir():
    if os.environ.get("SIDEWINDER_CACHE"):
        return Path(os.environ["SIDEWINDER_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "sidewinder"
    return Path.home() / ".cache" / "sidewinder"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", type=Path, default=None,
                    help="WAV path (default <cache>/capture/capture_v1.wav); the JSON goes beside it")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="content seed (default %(default)s)")
    ap.add_argument("--soundfont", default=DEFAULT_SF2, help="default %(default)s")
    ap.add_argument("--speech-dir", default=DEFAULT_SPEECH, help="default %(default)s")
    ap.add_argument("--fluidsynth", default=shutil.which("fluidsynth") or "fluidsynth")
    args = ap.parse_args(argv)

    out = args.output or cache_dir() / "capture" / ("capture_v%d.wav" % L.VERSION)
    out.parent.mkdir(parents=True, exist_ok=True)
    for p in (args.soundfont, args.speech_dir):
        if not os.path.exists(p):
            raise SystemExit("missing %s" % p)

    with tempfile.TemporaryDirectory(prefix="sw_capture_") as tmp:
        x, notes = build(args.seed, Synth(args.fluidsynth, args.soundfont, tmp), args.speech_dir)

    peak = np.max(np.abs(x))
    assert peak <= db(-0.5), "peak %.2f dBFS" % (20 * np.log10(peak))
    tmp_out = out.with_name(out.name + ".tmp")
    q = write_wav24(tmp_out, x)
    os.replace(tmp_out, out)
    assert all(q[p] == 4194304 for p in L.impulse_positions())

    meta = L.to_dict()
    meta.update({
        "file": out.name,
        "sha256": sha256(out),
        "format": "WAV, PCM 24-bit little-endian, mono",
        "seed": args.seed,
        "peak_dbfs": round(float(20 * np.log10(peak)), 3),
        "mean": float(np.mean(x)),
        "segment_notes": notes,
        "generator": "training/capture/make_capture.py",
        "tools": {
            "fluidsynth": fluidsynth_version(args.fluidsynth),
            "soundfont": os.path.basename(os.path.realpath(args.soundfont)),
            "soundfont_sha256": sha256(args.soundfont),
            "fluid-soundfont-gm": dpkg_version("fluid-soundfont-gm"),
            "asterisk-core-sounds-en-wav": dpkg_version("asterisk-core-sounds-en-wav"),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "licence": "CC-BY-SA-3.0 (contains speech by Allison Smith, asterisk-core-sounds-en); see docs/capture.md",
    })
    meta_path = out.with_suffix(".json")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print("%s  %.3f s  peak %.2f dBFS  sha256 %s" % (out, len(x) / FS, meta["peak_dbfs"], meta["sha256"]))
    print(meta_path)


if __name__ == "__main__":
    main()
