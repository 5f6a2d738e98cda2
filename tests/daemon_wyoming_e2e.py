#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end: the sidewinderd binary with the shipped voices, spoken to over
TCP by an independent Wyoming client written here from the protocol notes
(header line, data_length block, payload_length payload): describe, a
synthesize, the streaming-text mode, eight concurrent clients, then SIGTERM
while a request is in flight (it must be completed, then the daemon exits 0).
Prints the time to first audio over Wyoming. Run by CTest (daemon_wyoming_end_to_end).

usage: daemon_wyoming_e2e.py SIDEWINDERD
"""
import json
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

TEXT = "Please enter your number, then press the pound key."


def send(sock, type_, data=None):
    body = json.dumps(data or {}).encode()
    header = {"type": type_, "version": "1.9.0", "data_length": len(body)}
    sock.sendall(json.dumps(header).encode() + b"\n" + body)


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def event(self):
        while b"\n" not in self.buf:
            self._need(len(self.buf) + 1)
        line, self.buf = self.buf.split(b"\n", 1)
        h = json.loads(line)
        data = dict(h.get("data") or {})
        n, m = h.get("data_length") or 0, h.get("payload_length") or 0
        self._need(n + m)
        if n:
            data.update(json.loads(self.buf[:n]))
        payload = self.buf[n:n + m]
        self.buf = self.buf[n + m:]
        return h["type"], data, payload


def synthesize(port, text):
    """-> (seconds to the first audio-chunk, samples)"""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        r = Reader(s)
        t0 = time.perf_counter()
        send(s, "synthesize", {"text": text})
        first, samples = None, 0
        while True:
            t, d, p = r.event()
            if t == "audio-chunk":
                assert d["rate"] == 16000 and d["width"] == 2 and d["channels"] == 1, d
                first = first or time.perf_counter() - t0
                samples += len(p) // 2
            elif t == "audio-stop":
                return first, samples
            elif t == "error":
                raise AssertionError(d)


def main():
    # Refusals: one clear message, exit 1.
    for args, words in ((["--voice", "/nonexistent.safetensors"], "cannot open"),
                        (["--port", "0", "--host", "256.1.1.1"], "256.1.1.1")):
        r = subprocess.run([sys.argv[1]] + args, capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and words in r.stderr, (args, r.returncode, r.stderr)
    daemon = subprocess.Popen([sys.argv[1], "--port", "0", "--log-level", "info"], stderr=subprocess.PIPE, text=True)
    port = None
    for line in daemon.stderr:
        m = re.search(r"event=listen uri=tcp://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    assert port, "sidewinderd did not say where it listens"
    threading.Thread(target=lambda: [None for _ in daemon.stderr], daemon=True).start()

    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        r = Reader(s)
        send(s, "describe")
        t, d, _ = r.event()
        assert t == "info", t
        names = [v["name"] for v in d["tts"][0]["voices"]]
        assert names[0] == "allison-slt" and "allison" in names, names
        assert d["tts"][0]["supports_synthesize_streaming"] is True
        send(s, "synthesize-start", {"voice": {"name": "allison"}})
        for piece in ["Hello the", "re. How are", " you today?"]:
            send(s, "synthesize-chunk", {"text": piece})
        send(s, "synthesize-stop")
        groups, samples = 0, 0
        while True:
            t, d, p = r.event()
            groups += t == "audio-start"
            samples += len(p) // 2 if t == "audio-chunk" else 0
            if t == "synthesize-stopped":
                break
        assert groups == 2 and samples > 16000, (groups, samples)

    ttfa = [synthesize(port, TEXT)[0] for _ in range(5)]
    first, n = synthesize(port, TEXT)
    results = [None] * 8

    def client(i):
        results[i] = synthesize(port, TEXT)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r and r[1] == n for r in results), results

    # SIGTERM while a request is in flight: it is completed, then the daemon exits 0.
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    r = Reader(s)
    send(s, "synthesize", {"text": TEXT * 4})
    t, _, _ = r.event()
    assert t == "audio-start", t
    daemon.send_signal(signal.SIGTERM)
    samples = 0
    while True:
        t, d, p = r.event()
        samples += len(p) // 2 if t == "audio-chunk" else 0
        if t == "audio-stop":
            break
    assert samples > 3 * n, samples
    assert daemon.wait(timeout=30) == 0
    print(f"ok: describe, streaming text, 8 concurrent clients ({n} samples each), drain on SIGTERM; "
          f"time to first audio over Wyoming (connect excluded) median of 5: {1000 * statistics.median(ttfa):.1f} ms")


if __name__ == "__main__":
    main()
