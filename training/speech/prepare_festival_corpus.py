#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Builds a synthetic pretraining corpus: English sentences spoken by
Festival's SLT HTS voice (Debian festvox-us-slt-hts; CMU ARCTIC "slt",
free licence), in the same layout as prepare_corpus.py writes, so that the
voice can be pretrained on much more (and more varied) speech than the
25 minutes of the real speaker, then fine-tuned on her (issue 5, "Optional:
pretrain on synthetic speech").

Sentences:
  - the *training* transcripts of the real corpus (--corpus; never its test
    prompts), those made of plain words only, so both speakers say them;
  - a seeded sample of --sentences single sentences from Debian's `fortunes`
    (plain ASCII words and , . ? ! ; : ' - only: no digits, no
    abbreviations, no all-capital words, 5-16 words), so that Festival's
    reading and espeak-ng's phonemes agree;
  - any sentence equal (after lowercasing and removing punctuation) to a
    test prompt of the real corpus is dropped.
Each is synthesised with text2wave, resampled to 16 kHz, trimmed like the
real corpus, and phonemised with the engine's own front end.

Usage: python3 training/speech/prepare_festival_corpus.py --cli build/dev/cli/sidewinder \
         --corpus /tmp/voice/corpus -o /tmp/voice/slt [--sentences 1500] [--jobs 2]
Needs: festival, festvox-us-slt-hts, fortunes (Debian packages).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.signal import resample_poly

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare_corpus import RATE, phonemize, trim_silence  # noqa: E402
from sidewinder_train.audio_io import read_wav, write_wav  # noqa: E402

FORTUNES = "/usr/share/games/fortunes"
PLAIN = re.compile(r"^[A-Za-z][A-Za-z ,.?!;:'-]*[.?!]$")


def key(text):
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


def fortune_sentences():
    """Every plain single sentence in the fortune files, in file order."""
    out = []
    for path in sorted(glob.glob(os.path.join(FORTUNES, "*"))):
        if "." in os.path.basename(path) or not os.path.isfile(path):
            continue  # .dat indexes, .u8 links
        with open(path, encoding="utf-8", errors="replace") as f:
            entries = f.read().split("\n%\n")
        for e in entries:
            lines = [l for l in e.split("\n") if not l.strip().startswith("--")]
            text = " ".join(" ".join(lines).split())
            for s in re.split(r"(?<=[.?!])\s+(?=[A-Z])", text):
                words = s.split()
                if not 5 <= len(words) <= 16 or not PLAIN.match(s):
                    continue
                if any(len(w) > 1 and w.strip(",.?!;:'-").isupper() for w in words):
                    continue
                if re.search(r"\b[A-Za-z]\.|[.?!;:,][A-Za-z]", s[:-1]) or "--" in s or "''" in s:
                    continue
                out.append(s)
    return out


def synthesise(text, voice="cmu_us_slt_arctic_hts"):
    with tempfile.TemporaryDirectory() as d:
        txt, wav = os.path.join(d, "t.txt"), os.path.join(d, "t.wav")
        with open(txt, "w") as f:
            f.write(text + "\n")
        subprocess.run(["text2wave", "-eval", f"(voice_{voice})", txt, "-o", wav], check=True,
                       capture_output=True)
        x, rate = read_wav(wav)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if rate != RATE:
        from math import gcd
        g = gcd(rate, RATE)
        x = resample_poly(x, RATE // g, rate // g)
    return trim_silence(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True, help="the sidewinder command (for `phonemize`)")
    ap.add_argument("--corpus", required=True, help="the real corpus (prepare_corpus.py): its train texts are added, its test texts excluded")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--sentences", type=int, default=1500, help="fortune sentences (default 1500)")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    real = [json.loads(l) for l in open(os.path.join(a.corpus, "metadata.jsonl"), encoding="utf-8")]
    banned = {key(it["text"]) for it in real if it["split"] == "test"}
    texts = [it["text"] for it in real if it["split"] == "train" and re.match(r"^[A-Za-z][A-Za-z ,.?!;:'-]*$", it["text"])]
    pool = sorted(set(s for s in fortune_sentences() if key(s) not in banned))
    rng = np.random.default_rng(20261203)
    texts += rng.choice(pool, size=min(a.sentences, len(pool)), replace=False).tolist()
    texts = [t for t in dict.fromkeys(texts) if key(t) not in banned]
    print(f"{len(pool)} fortune sentences pass the filter; synthesising {len(texts)}", flush=True)
    os.makedirs(os.path.join(a.out, "wav"), exist_ok=True)

    def one(i_text):
        i, text = i_text
        uid = f"slt-{i:05d}"
        x = synthesise(text)
        if len(x) < RATE * 0.2 or len(x) > RATE * 12:
            return None
        clauses = phonemize(a.cli, text)
        if not clauses:
            return None
        write_wav(os.path.join(a.out, "wav", uid + ".wav"), x.astype(np.float32), RATE)
        return {"id": uid, "prompt": uid, "text": text, "seconds": round(len(x) / RATE, 3),
                "clauses": clauses, "split": "train", "speaker": "slt"}

    with ThreadPoolExecutor(a.jobs) as ex:
        items = [it for it in ex.map(one, enumerate(texts)) if it]
    with open(os.path.join(a.out, "metadata.jsonl"), "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    with open(os.path.join(a.out, "train.txt"), "w") as f:
        f.writelines(it["id"] + "\n" for it in items)
    open(os.path.join(a.out, "test.txt"), "w").close()
    summary = {"prompts": len(items), "seconds": round(sum(it["seconds"] for it in items), 1), "rate": RATE,
               "source": "Festival text2wave, voice cmu_us_slt_arctic_hts (Debian festvox-us-slt-hts); "
                         "texts: the real corpus's training transcripts and Debian fortunes"}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
