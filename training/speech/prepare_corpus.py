#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Builds the voice corpus for the Sidewinder voice from Debian's Asterisk
prompts: Allison Smith, one professional US-English speaker, CC-BY-SA-3.0
(packages asterisk-core-sounds-en, -en-g722).

For every prompt with a spoken transcript (core-sounds-en.txt; bracketed
descriptions such as "[ascending tones]" and the silence files are skipped):
  - decode the G.722 file to 16 kHz (ffmpeg),
  - trim leading/trailing silence (-50 dBFS, 30 ms frames, 50 ms kept),
  - phonemise the transcript with the engine's own front end
    (`sidewinder phonemize --json`), so that training and synthesis use the
    same phonemes,
  - write corpus/wav/<id>.wav (float32) and one JSON line per prompt to
    corpus/metadata.jsonl,
and split: 50 one-sentence prompts of 5-15 words drawn with a fixed seed
are held out (test.txt), the rest is for training (train.txt).

Usage: python3 training/speech/prepare_corpus.py --cli build/release/cli/sidewinder -o OUT_DIR
Needs: ffmpeg, asterisk-core-sounds-en, asterisk-core-sounds-en-g722 (scripts/install_deps.sh --voice).
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sidewinder_train.audio_io import read_wav, write_wav  # noqa: E402

SOUNDS = "/usr/share/asterisk/sounds/en_US_f_Allison"
TRANSCRIPTS = "/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
RATE = 16000
N_TEST = 50


def read_transcripts(path=TRANSCRIPTS):
    """{prompt id: transcript} for every prompt with words (no brackets)."""
    out = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(";") or ":" not in line:
                continue
            pid, text = line.split(":", 1)
            pid, text = pid.strip(), " ".join(text.split())
            if not text or "[" in text or pid.startswith("silence/"):
                continue
            out[pid] = text
    return out


def decode_g722(path):
    """16 kHz float32 mono from a raw G.722 file, through ffmpeg."""
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "g722", "-i", path,
         "-f", "f32le", "-ac", "1", "-ar", str(RATE), "-"],
        check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def trim_silence(x, rate=RATE, threshold_db=-50.0, frame_s=0.03, keep_s=0.05):
    n = max(1, int(rate * frame_s))
    frames = len(x) // n
    if frames == 0:
        return x
    rms = np.sqrt(np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1) + 1e-20)
    loud = np.nonzero(20 * np.log10(rms) > threshold_db)[0]
    if len(loud) == 0:
        return x[:0]
    keep = int(rate * keep_s)
    b = max(0, loud[0] * n - keep)
    e = min(len(x), (loud[-1] + 1) * n + keep)
    return x[b:e]


def phonemize(cli, text):
    r = subprocess.run([cli, "phonemize", "--json", text], check=True, capture_output=True, text=True)
    return json.loads(r.stdout)["clauses"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True, help="the sidewinder command (for `phonemize`)")
    ap.add_argument("-o", "--out", required=True, help="output folder")
    a = ap.parse_args(argv)
    if not os.path.isdir(SOUNDS):
        sys.exit(f"prepare_corpus: {SOUNDS} missing (apt install asterisk-core-sounds-en-g722)")
    os.makedirs(os.path.join(a.out, "wav"), exist_ok=True)
    items = []
    skipped = []
    for pid, text in sorted(read_transcripts().items()):
        src = os.path.join(SOUNDS, pid + ".g722")
        if not os.path.isfile(src):
            skipped.append((pid, "no .g722 file"))
            continue
        x = trim_silence(decode_g722(src))
        if len(x) < RATE * 0.2:
            skipped.append((pid, "shorter than 0.2 s after trimming"))
            continue
        clauses = phonemize(a.cli, text)
        if not clauses:
            skipped.append((pid, "no phonemes"))
            continue
        uid = pid.replace("/", "__")
        write_wav(os.path.join(a.out, "wav", uid + ".wav"), x.astype(np.float32), RATE)
        items.append({"id": uid, "prompt": pid, "text": text, "seconds": round(len(x) / RATE, 3),
                      "clauses": clauses})
    # Test set: 50 prompts drawn (seeded) from those that are one sentence of
    # 5-15 words — real sentences, not the single digits and letters.
    def sentence_like(it):
        words = len(it["text"].split())
        return 5 <= words <= 15 and sum(c["terminator"] in ".?!" for c in it["clauses"]) <= 1
    candidates = sorted(it["id"] for it in items if sentence_like(it))
    rng = np.random.default_rng(20261123)
    test = set(rng.choice(candidates, size=min(N_TEST, len(candidates)), replace=False).tolist())
    with open(os.path.join(a.out, "metadata.jsonl"), "w", encoding="utf-8") as f:
        for it in items:
            it["split"] = "test" if it["id"] in test else "train"
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    for split in ("train", "test"):
        with open(os.path.join(a.out, split + ".txt"), "w") as f:
            for it in items:
                if it["split"] == split:
                    f.write(it["id"] + "\n")
    total = sum(it["seconds"] for it in items)
    ttest = sum(it["seconds"] for it in items if it["split"] == "test")
    summary = {"prompts": len(items), "seconds": round(total, 1), "test_prompts": len(test),
               "test_seconds": round(ttest, 1), "rate": RATE, "skipped": skipped,
               "source": "Debian asterisk-core-sounds-en-g722 (Allison Smith, CC-BY-SA-3.0)"}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"}), f"skipped {len(skipped)}")


if __name__ == "__main__":
    main()
