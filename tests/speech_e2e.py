#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end: the bundled voice speaks test sentences through `sidewinder
speak` and Debian's pocketsphinx (en-us model) must hear their key words.

For each sentence the transcript (normalised as evaluate_wer.py does) must
contain at least `need` of its key words; the sentences are phone-menu
prompts of the voice's domain, none of them in the corpus's training or test
prompts verbatim. Run by CTest (speech_end_to_end).

usage: speech_e2e.py SIDEWINDER_CLI VOICE WORKDIR
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training", "speech"))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
import evaluate_wer as W  # noqa: E402

SENTENCES = [
    ("Please enter your number, then press the pound key.", ["enter", "number", "press", "pound", "key"], 3),
    ("Thank you for calling. Goodbye.", ["thank", "you", "calling", "goodbye"], 2),
    ("Your call is important to us. Please hold.", ["your", "call", "please", "hold"], 2),
]


def main():
    cli, voice, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    failures = 0
    for k, (text, keys, need) in enumerate(SENTENCES):
        wav = os.path.join(work, f"e2e_{k}.wav")
        wav16 = os.path.join(work, f"e2e_{k}.16k.wav")
        subprocess.run([cli, "speak", text, "-o", wav, "--voice", voice], check=True)
        W.to_16k(wav, wav16)
        hyp = W.normalise(W.recognise(wav16))
        heard = [w for w in keys if w in hyp]
        ok = len(heard) >= need
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} '{text}' -> '{' '.join(hyp)}' (key words heard {len(heard)}/{len(keys)},"
              f" need {need})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
