#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time to first audio of sidewinderd over each protocol: Wyoming (request
sent -> first audio-chunk, connection already open) and HTTP per response
format (request sent on a new connection -> first byte of the body: for a
compressed format, the codec's first output). A sentence of 9 words; the
median of --repeats after one warm-up each. A benchmark, not a test: the
figures go in the README.

usage: daemon_ttfa.py SIDEWINDERD [--repeats 7]
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from daemon_wyoming_e2e import TEXT, http_speech, start, synthesize  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    sys.argv = [sys.argv[0], a.binary]  # start() reads the binary from argv[1]
    d, wport, hport = start(["--port", "0", "--http-port", "0"])
    try:
        rows = []
        synthesize(wport, TEXT)
        rows.append(("Wyoming (audio-chunk)", statistics.median(synthesize(wport, TEXT)[0]
                                                                 for _ in range(a.repeats))))
        for fmt in ("pcm", "wav", "flac", "opus", "mp3"):
            http_speech(hport, {"input": TEXT, "response_format": fmt})
            rows.append((f"HTTP {fmt}", statistics.median(http_speech(hport, {"input": TEXT, "response_format": fmt})[0]
                                                          for _ in range(a.repeats))))
        print(f"| protocol | time to first audio (ms, median of {a.repeats}) |")
        print("| --- | ---: |")
        for name, t in rows:
            print(f"| {name} | {1000 * t:.1f} |")
    finally:
        d.terminate()
        d.wait()


if __name__ == "__main__":
    main()
