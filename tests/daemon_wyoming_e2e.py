#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end: the sidewinderd binary with the shipped voices, spoken to over
TCP by an independent Wyoming client written here from the protocol notes
(header line, data_length block, payload_length payload): describe, a
synthesize, the streaming-text mode, eight concurrent clients; over HTTP
(a raw HTTP/1.1 client, and curl): /health, a streamed speech request, the
bearer token from a file; then SIGTERM while a request is in flight on each
protocol (both must be completed, then the daemon exits 0). Prints the time
to first audio over each protocol. Run by CTest (daemon_wyoming_end_to_end).

usage: daemon_wyoming_e2e.py SIDEWINDERD
"""
import collections
import json
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

TEXT = "Please enter your number, then press the pound key."


def send(sock, type_, data=None):
    body = json.dumps(data or {}).encode()
    header = {"type": type_, "version": "1.9.0", "data_length": len(body)}
    sock.sendall(json.dumps(header).encode() + b"\n" + body)


class Reader:
    """Wyoming events from a socket; slow=True reads 4 KiB at a time with a pause (a slow client)."""

    def __init__(self, sock, slow=False):
        self.sock, self.buf, self.slow = sock, b"", slow

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(4096 if self.slow else 65536)
            if not chunk:
                raise EOFError("connection closed")
            if self.slow:
                time.sleep(0.002)
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


def reset(sock):
    """An abrupt disconnect: RST, not FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def http_speech(port, body, token=None, slow=False, abort=False):
    """A raw HTTP/1.1 POST /v1/audio/speech (chunked reply) ->
    (seconds to the first audio byte of the body, body bytes, status).
    slow: read 4 KiB at a time with a pause; abort: reset the connection after
    the first audio chunk (body bytes None)."""
    data = json.dumps(body).encode()
    head = (f"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n")
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        t0 = time.perf_counter()
        s.sendall(head.encode() + b"\r\n" + data)
        buf, first = b"", None
        while b"\r\n\r\n" not in buf:
            c = s.recv(65536)
            if not c:
                raise AssertionError("closed before the headers")
            buf += c
        header, raw = buf.split(b"\r\n\r\n", 1)
        status = int(header.split()[1])
        chunked = b"chunked" in header.lower()
        body_bytes = b""
        while True:  # de-chunk as it comes; note when the first body byte arrives
            if chunked:
                while b"\r\n" in raw:
                    size_line, tail = raw.split(b"\r\n", 1)
                    n = int(size_line.split(b";")[0], 16)
                    if len(tail) < n + 2:
                        break
                    if n and first is None:
                        first = time.perf_counter() - t0
                    body_bytes += tail[:n]
                    raw = tail[n + 2:]
                    if n == 0:
                        return first, body_bytes, status
                    if abort:
                        reset(s)
                        return first, None, status
            c = s.recv(4096 if slow else 65536)
            if slow:
                time.sleep(0.002)
            if not c:
                if chunked:
                    raise AssertionError("closed mid-body")
                return first, raw, status
            raw += c
    finally:
        s.close()


def start(args, binary=None):
    """sidewinderd with args (both servers on) -> (process, Wyoming port, HTTP port)."""
    daemon = subprocess.Popen([binary or sys.argv[1]] + args, stderr=subprocess.PIPE, text=True)
    ports = {}
    for line in daemon.stderr:
        m = re.search(r"event=listen uri=(tcp|http)://127\.0\.0\.1:(\d+)", line)
        if m:
            ports[m.group(1)] = int(m.group(2))
        if len(ports) == 2:
            break
    assert len(ports) == 2, f"sidewinderd did not say where it listens: {ports}"
    daemon.log_tail = collections.deque(maxlen=200)  # what it said last, for a failure's message
    threading.Thread(target=lambda: [daemon.log_tail.append(x) for x in daemon.stderr], daemon=True).start()
    return daemon, ports["tcp"], ports["http"]


def main():
    # Refusals: one clear message, exit 1.
    for args, words in ((["--voice", "/nonexistent.safetensors"], "cannot open"),
                        (["--port", "0", "--host", "256.1.1.1"], "256.1.1.1")):
        r = subprocess.run([sys.argv[1]] + args, capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and words in r.stderr, (args, r.returncode, r.stderr)
    tf = tempfile.NamedTemporaryFile("w", suffix=".token")
    tf.write("e2e-token\n")
    tf.flush()
    daemon, port, http_port = start(["--port", "0", "--http-port", "0", "--token-file", tf.name])
    tf.close()  # read at start

    # HTTP: health without a token, speech with it (and refused without), curl as the client.
    health = json.loads(subprocess.run(["curl", "-sS", f"http://127.0.0.1:{http_port}/health"],
                                       capture_output=True, text=True, timeout=30).stdout)
    assert health["status"] == "ok" and health["voices"] >= 2, health
    _, _, status = http_speech(http_port, {"input": TEXT})
    assert status == 401, status
    http_ttfa = []
    for _ in range(5):
        first, pcm, status = http_speech(http_port, {"input": TEXT, "response_format": "pcm"}, "e2e-token")
        assert status == 200 and len(pcm) > 2 * 24000, (status, len(pcm))
        http_ttfa.append(first)
    with tempfile.TemporaryDirectory() as d:
        out = f"{d}/a.mp3"
        code = subprocess.run(["curl", "-sS", "-o", out, "-w", "%{http_code}", "-H", "Authorization: Bearer e2e-token",
                               "-H", "Content-Type: application/json", "--data-binary",
                               json.dumps({"model": "tts-1", "input": TEXT, "voice": "alloy"}),
                               f"http://127.0.0.1:{http_port}/v1/audio/speech"],
                              capture_output=True, text=True, timeout=30).stdout
        with open(out, "rb") as f:
            head = f.read(4)
        assert code == "200" and head[:2] in (b"\xff\xf3", b"\xff\xfb", b"ID"), (code, head)

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

    # SIGTERM while a request is in flight on each protocol: both completed, then exit 0.
    http_result = {}

    def slow_http():  # a long text, read as it comes
        http_result["r"] = http_speech(http_port, {"input": TEXT * 40, "response_format": "pcm"}, "e2e-token")
    ht = threading.Thread(target=slow_http)
    ht.start()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    r = Reader(s)
    send(s, "synthesize", {"text": TEXT * 4})
    t, _, _ = r.event()
    assert t == "audio-start", t
    time.sleep(0.05)
    daemon.send_signal(signal.SIGTERM)
    samples = 0
    while True:
        t, d, p = r.event()
        samples += len(p) // 2 if t == "audio-chunk" else 0
        if t == "audio-stop":
            break
    assert samples > 3 * n, samples
    ht.join(timeout=60)
    _, pcm, status = http_result["r"]
    assert status == 200 and len(pcm) / 2 > 30 * n * 1.5, (status, len(pcm))  # 40 x the text, at 24 kHz
    assert daemon.wait(timeout=30) == 0
    print(f"ok: describe, streaming text, 8 concurrent clients ({n} samples each), HTTP with a token, "
          f"drain on SIGTERM on both; time to first audio (connect excluded), median of 5: "
          f"Wyoming {1000 * statistics.median(ttfa):.1f} ms, HTTP pcm {1000 * statistics.median(http_ttfa):.1f} ms")


if __name__ == "__main__":
    main()
