#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""How many concurrent real-time speech streams sidewinderd sustains on this
machine: N Wyoming clients ask at the same moment for the same long text
(about 20 s of speech) and read as it comes (one selector-driven thread);
a stream keeps up if every sample arrives before a listener starting
`--buffer` seconds after the request would play it:
    arrival(k) <= t_request + buffer + k / rate   for every sample k.
N goes up until a stream falls behind; prints a table (median of --runs).
A benchmark, not a test: the figure goes in the README.

usage: daemon_capacity.py SIDEWINDERD [--engine-threads 2] [--buffer 0.25] [--runs 3] [--max 512]
"""
import argparse
import json
import re
import selectors
import socket
import statistics
import subprocess
import time

TEXT = ("The quick brown fox jumps over the lazy dog while the band plays on. " * 2 +
        "Please enter your number, then press the pound key. " * 2)


def start(binary, engine_threads, n_max):
    d = subprocess.Popen([binary, "--port", "0", "--no-http", "--max-connections", str(n_max + 8),
                          "--max-streams", str(n_max + 8), "--engine-threads", str(engine_threads),
                          "--workers", "2", "--client-buffer", str(64 << 20), "--log-level", "info"],
                         stderr=subprocess.PIPE, text=True)
    for line in d.stderr:
        m = re.search(r"event=listen uri=tcp://127\.0\.0\.1:(\d+)", line)
        if m:
            import threading
            threading.Thread(target=lambda: [None for _ in d.stderr], daemon=True).start()
            return d, int(m.group(1))
    raise RuntimeError("sidewinderd did not start")


def trial(port, n, buffer_s):
    """-> (worst lateness in s over all streams (<= 0: all kept up), samples per stream, worst first-audio s)"""
    sel = selectors.DefaultSelector()
    body = json.dumps({"text": TEXT}).encode()
    msg = json.dumps({"type": "synthesize", "version": "1.9.0", "data_length": len(body)}).encode() + b"\n" + body
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        conns.append(s)
    state = {}
    t0 = time.perf_counter()
    for s in conns:
        s.sendall(msg)
        state[s] = {"buf": b"", "samples": 0, "late": -1e9, "first": None, "done": False}
        sel.register(s, selectors.EVENT_READ)
    left = n
    while left:
        for key, _ in sel.select(timeout=30):
            s = key.fileobj
            st = state[s]
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("closed early")
            now = time.perf_counter() - t0
            st["buf"] += chunk
            while True:  # parse whole events
                nl = st["buf"].find(b"\n")
                if nl < 0:
                    break
                h = json.loads(st["buf"][:nl])
                need = nl + 1 + (h.get("data_length") or 0) + (h.get("payload_length") or 0)
                if len(st["buf"]) < need:
                    break
                p = h.get("payload_length") or 0
                if h["type"] == "audio-chunk":
                    # the first sample of this chunk arrived now; it plays at buffer + samples/rate
                    st["late"] = max(st["late"], now - (buffer_s + st["samples"] / 16000))
                    st["first"] = st["first"] if st["first"] is not None else now
                    st["samples"] += p // 2
                elif h["type"] == "audio-stop":
                    st["done"] = True
                    left -= 1
                    sel.unregister(s)
                elif h["type"] == "error":
                    raise RuntimeError(h)
                st["buf"] = st["buf"][need:]
    for s in conns:
        s.close()
    return (max(st["late"] for st in state.values()), state[conns[0]]["samples"],
            max(st["first"] for st in state.values()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--engine-threads", type=int, default=2)
    ap.add_argument("--buffer", type=float, default=0.25)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max", type=int, default=512)
    a = ap.parse_args()
    d, port = start(a.binary, a.engine_threads, a.max)
    try:
        print(f"| streams | worst lateness (s, median of {a.runs}) | worst first audio (s) | keeps up |")
        print("| ---: | ---: | ---: | :---: |")
        best = 0
        for n in (8, 16, 32, 64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512):
            if n > a.max:
                break
            rs = [trial(port, n, a.buffer) for _ in range(a.runs)]
            late = statistics.median(r[0] for r in rs)
            first = statistics.median(r[2] for r in rs)
            ok = late <= 0
            print(f"| {n} | {late:+.3f} | {first:.3f} | {'yes' if ok else 'no'} |", flush=True)
            if ok:
                best = n
            else:
                break
        secs = rs[0][1] / 16000
        print(f"\n{best} concurrent real-time streams kept up ({secs:.1f} s of speech each, "
              f"listener buffer {a.buffer} s, {a.engine_threads} engine threads)")
    finally:
        d.terminate()
        d.wait()


if __name__ == "__main__":
    main()
