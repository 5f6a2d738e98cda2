#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Intelligibility of a text-to-speech voice: word error rate (WER) of an
off-the-shelf recogniser on the held-out test sentences of the voice corpus
(training/speech/prepare_corpus.py).

Every system speaks the 50 test sentences (corpus/test.txt); each wav is
converted to 16 kHz mono 16-bit with 0.3 s of silence added at both ends (so
every system gets the same lead-in, whatever its own trimming), and
recognised by pocketsphinx_continuous with the US-English models of Debian's
pocketsphinx-en-us (acoustic model, 3-gram language model, CMU dictionary).
The recogniser is not good (the real recording scores far from 0 %); compare
systems with each other, above all with `recording`, not with 0.

Systems:
  recording      the real speaker's test wavs (corpus/wav/<id>.wav)
  espeak-ng      espeak-ng -v en-us, default rate
  festival-slt   Festival, voice cmu_us_slt_arctic_hts (text2wave)
  --system NAME=DIR  any other: DIR/<id>.wav (mono WAV, any rate)
The synthesisers get the corpus text as it is (so "#" is read as "hash",
where the speaker said "pound").

WER = (substitutions + deletions + insertions) / reference words, from a
Levenshtein alignment over words, summed over sentences. Reference and
hypothesis are normalised alike: lowercase, "#" -> pound, "*" -> star,
numbers to words (42 -> forty two), hyphens to spaces, other punctuation
removed, apostrophes kept inside words.

Writes OUT/<system>/<id>.txt (the transcript cache: a transcript is redone
only when its wav is newer), OUT/<system>/wav/ (what built-ins synthesised),
OUT/<system>/16k/ (what the recogniser heard), OUT/wer.json; prints a
Markdown table.

Usage: python3 training/speech/evaluate_wer.py --out /tmp/voice/wer \
         [--system mine=/tmp/voice/samples] [--builtin recording festival-slt]
Needs: pocketsphinx, pocketsphinx-en-us, espeak-ng, festival,
festvox-us-slt-hts (Debian packages).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import wave
from concurrent.futures import ThreadPoolExecutor
from math import gcd

import numpy as np
from scipy.signal import resample_poly

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sidewinder_train.audio_io import read_wav  # noqa: E402
from sidewinder_train.errors import TrainError  # noqa: E402

RATE = 16000
PAD_S = 0.3
MODEL = "/usr/share/pocketsphinx/model/en-us"
BUILTINS = ("recording", "espeak-ng", "festival-slt")
ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand"), (100, "hundred"))
SYMBOLS = {"#": " pound ", "*": " star ", "%": " percent ", "&": " and ", "+": " plus "}


def number_words(n):
    """Non-negative integer -> English words: 1999 -> one thousand nine hundred ninety nine."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    for value, name in SCALES:
        if n >= value:
            rest = n % value
            return f"{number_words(n // value)} {name}" + ("" if rest == 0 else " " + number_words(rest))
    raise ValueError(n)


def normalise(text):
    """-> list of words, the same rules for reference and hypothesis."""
    t = text.lower().replace("\u2019", "'")
    t = re.sub(r"\[[^\]]*\]|<[^>]*>", " ", t)          # recogniser fillers such as <sil>, [noise]
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)              # 1,000 -> 1000
    for sym, word in SYMBOLS.items():
        t = t.replace(sym, word)
    t = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", t)
    t = re.sub(r"[^a-z' ]+", " ", t)                     # hyphens and punctuation -> spaces
    return [w.strip("'") for w in t.split() if w.strip("'")]


def align(ref, hyp):
    """Levenshtein over words -> (substitutions, deletions, insertions)."""
    # d[i][j] = (cost, S, D, I) for ref[:i] against hyp[:j]
    d = [[(j, 0, 0, j) for j in range(len(hyp) + 1)]]
    for i in range(1, len(ref) + 1):
        row = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            c, s, dl, ins = d[i - 1][j - 1]
            same = ref[i - 1] == hyp[j - 1]
            diag = (c + (not same), s + (not same), dl, ins)
            c, s, dl, ins = d[i - 1][j]
            up = (c + 1, s, dl + 1, ins)
            c, s, dl, ins = row[j - 1]
            left = (c + 1, s, dl, ins + 1)
            row.append(min(diag, up, left, key=lambda e: e[0]))
        d.append(row)
    return d[-1][-1][1:]


def run_tool(cmd, what, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise TrainError(f"{what}: {cmd[0]} failed (exit {r.returncode}): {last}")
    return r.stdout


def synthesise(system, text, path):
    if system == "espeak-ng":
        run_tool(["espeak-ng", "-v", "en-us", "-w", path, text], path)
    else:
        run_tool(["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-o", path], path, input=text + "\n")
    if not os.path.isfile(path) or os.path.getsize(path) <= 44:
        raise TrainError(f"{path}: {system} wrote no audio")


def to_16k(src, dst):
    """Any-rate mono WAV -> 16 kHz mono 16-bit, padded with PAD_S of silence at both ends."""
    x, rate = read_wav(src)
    if rate != RATE:
        g = gcd(rate, RATE)
        x = resample_poly(x, RATE // g, rate // g)
    pad = np.zeros(int(PAD_S * RATE))
    pcm = np.clip(np.round(np.concatenate([pad, x, pad]) * 32767), -32768, 32767).astype("<i2")
    with wave.open(dst, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def recognise(wav16):
    out = run_tool(["pocketsphinx_continuous", "-infile", wav16, "-hmm", f"{MODEL}/en-us",
                    "-lm", f"{MODEL}/en-us.lm.bin", "-dict", f"{MODEL}/cmudict-en-us.dict",
                    "-logfn", "/dev/null"], wav16)
    return " ".join(out.split())


def transcribe(system, sid, text, src_dir, out):
    """Synthesises (built-ins), converts and recognises one sentence; -> hypothesis text (cached)."""
    base = os.path.join(out, system)
    src = os.path.join(src_dir, f"{sid}.wav") if src_dir else os.path.join(base, "wav", f"{sid}.wav")
    if not src_dir and not os.path.isfile(src):
        synthesise(system, text, src)
    if not os.path.isfile(src):
        raise TrainError(f"{src}: missing wav for system {system}")
    txt = os.path.join(base, f"{sid}.txt")
    if os.path.isfile(txt) and os.path.getmtime(txt) >= os.path.getmtime(src):
        with open(txt, encoding="utf-8") as f:
            return f.read().strip()
    wav16 = os.path.join(base, "16k", f"{sid}.wav")
    to_16k(src, wav16)
    hyp = recognise(wav16)
    with open(txt, "w", encoding="utf-8") as f:
        f.write(hyp + "\n")
    return hyp


def score(items, hyps):
    """items [(id, text)], hyps [text] -> the wer.json entry of one system."""
    total, sents = np.zeros(4, dtype=int), []
    for (sid, text), hyp in zip(items, hyps):
        ref, h = normalise(text), normalise(hyp)
        s, d, i = align(ref, h)
        total += (len(ref), s, d, i)
        sents.append({"id": sid, "ref": " ".join(ref), "hyp": " ".join(h),
                      "wer": round((s + d + i) / len(ref), 4) if ref else None})
    n, s, d, i = (int(v) for v in total)
    return {"wer": round((s + d + i) / max(n, 1), 4), "words": n, "substitutions": s,
            "deletions": d, "insertions": i, "sentences": sents}


def load_test(corpus):
    meta, ids_path = os.path.join(corpus, "metadata.jsonl"), os.path.join(corpus, "test.txt")
    for p in (meta, ids_path):
        if not os.path.isfile(p):
            raise TrainError(f"{p}: missing (make the corpus with training/speech/prepare_corpus.py)")
    texts = {}
    with open(meta, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                texts[row["id"]] = row["text"]
    with open(ids_path, encoding="utf-8") as f:
        ids = f.read().split()
    unknown = [i for i in ids if i not in texts]
    if unknown:
        raise TrainError(f"{ids_path}: id {unknown[0]} is not in {meta}")
    return [(i, texts[i]) for i in ids]


def check_tools(builtins):
    need = {"pocketsphinx_continuous": "pocketsphinx"}  # tool: Debian package(s)
    if "espeak-ng" in builtins:
        need["espeak-ng"] = "espeak-ng"
    if "festival-slt" in builtins:
        need["text2wave"] = "festival festvox-us-slt-hts"
    for tool, package in need.items():
        if shutil.which(tool) is None:
            raise TrainError(f"{tool}: not found on PATH (Debian: apt-get install {package})")
    for p in ("en-us/mdef", "en-us.lm.bin", "cmudict-en-us.dict"):
        if not os.path.exists(os.path.join(MODEL, p)):
            raise TrainError(f"{MODEL}/{p}: missing pocketsphinx model (apt-get install pocketsphinx-en-us)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/tmp/voice/corpus", help="corpus dir (metadata.jsonl, test.txt, wav/)")
    ap.add_argument("--out", required=True, help="work dir: generated wavs, transcripts, wer.json")
    ap.add_argument("--system", action="append", default=[], metavar="NAME=DIR",
                    help="extra system whose wavs are DIR/<id>.wav (repeatable)")
    ap.add_argument("--builtin", nargs="*", choices=BUILTINS, default=list(BUILTINS),
                    help="built-in systems to run (default: all; none: --builtin with no names)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel synthesis/recognition jobs (default 2)")
    a = ap.parse_args(argv)
    try:
        items = load_test(a.corpus)
        check_tools(a.builtin)
        systems = {b: (os.path.join(a.corpus, "wav") if b == "recording" else None) for b in a.builtin}
        for spec in a.system:
            name, sep, path = spec.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z0-9_.+-]+", name) or not path:
                raise TrainError(f"--system {spec}: expected NAME=DIR (NAME of letters, digits, _ . + -)")
            if name in systems:
                raise TrainError(f"--system {spec}: the name {name} is already taken (built-in or given twice)")
            if not os.path.isdir(path):
                raise TrainError(f"{path}: no such directory (--system {name})")
            systems[name] = path
        if not systems:
            raise TrainError("no systems to evaluate (give --builtin names or --system NAME=DIR)")
        for name, src_dir in systems.items():  # every wav there before any work starts
            for sid, _ in items:
                if src_dir and not os.path.isfile(os.path.join(src_dir, f"{sid}.wav")):
                    raise TrainError(f"{src_dir}/{sid}.wav: missing wav for system {name}")
            for sub in ("wav", "16k"):
                os.makedirs(os.path.join(a.out, name, sub), exist_ok=True)
        report = {}
        with ThreadPoolExecutor(max(1, a.jobs)) as pool:
            for name, src_dir in systems.items():
                hyps = list(pool.map(lambda it: transcribe(name, it[0], it[1], src_dir, a.out), items))
                report[name] = score(items, hyps)
                print(f"{name}: {len(hyps)} sentences recognised", file=sys.stderr)
    except TrainError as e:
        print(f"evaluate_wer: {e}", file=sys.stderr)
        return 2
    with open(os.path.join(a.out, "wer.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print("| system | WER % | words | sub | del | ins |\n|---|---:|---:|---:|---:|---:|")
    for name, r in report.items():
        print(f"| {name} | {100 * r['wer']:.1f} | {r['words']} | {r['substitutions']} | "
              f"{r['deletions']} | {r['insertions']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
