#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load: the sidewinderd binary with the shipped voices, 32 concurrent
clients x 20 requests each, over both protocols (Wyoming, and HTTP pcm/wav),
with slow readers and abrupt disconnects (a reset after the first audio)
mixed in, and one client that asks for a long text and never reads (it must
be dropped, alone). Checks: every completed response has exactly the
expected length, the daemon keeps serving throughout and afterwards,
resident memory stays flat (the RSS after the first quarter of the requests
against the end), /metrics counts what happened, SIGTERM exits 0. Prints
the figures. Run by CTest (daemon_load).

usage: daemon_load.py SIDEWINDERD [CLIENTS REQUESTS] [--no-rss-check]
(--no-rss-check: for a sanitizer build, whose allocator keeps freed memory
in quarantine on purpose; the figures are still printed)
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_wyoming_e2e import Reader, http_speech, reset, send, start  # noqa: E402 -- the clients, written once

TEXTS = ["Please enter your number, then press the pound key.",
         "The meeting has been moved to Thursday at ten.",
         "Turn left at the next light, then continue for two miles."]


def wyoming(port, text, slow=False, abort=False):
    """-> samples, or None if we hung up on purpose"""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    r = Reader(s, slow)
    send(s, "synthesize", {"text": text})
    samples = 0
    while True:
        t, d, p = r.event()
        if t == "audio-chunk":
            samples += len(p) // 2
            if abort:
                reset(s)
                return None
        elif t == "audio-stop":
            s.close()
            return samples
        elif t == "error":
            raise AssertionError(d)


def http(port, text, fmt, slow=False, abort=False):
    """-> body bytes, or None if we hung up on purpose"""
    _, body, status = http_speech(port, {"input": text, "response_format": fmt}, slow=slow, abort=abort)
    if status != 200:
        raise AssertionError(f"HTTP {status}: {(body or b'')[:200]}")
    return None if body is None else len(body)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def speakers(hport):
    m = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{hport}/metrics"], capture_output=True, text=True,
                       timeout=30).stdout
    return int(float(re.search(r"^sidewinder_speakers (\S+)", m, re.M).group(1)))


def main():
    args = [a for a in sys.argv[1:] if a != "--no-rss-check"]
    check_rss = len(args) == len(sys.argv) - 1
    binary = args[0]
    clients = int(args[1]) if len(args) > 1 else 32
    requests = int(args[2]) if len(args) > 2 else 20
    daemon, wport, hport = start(["--port", "0", "--http-port", "0", "--max-connections", "256",
                                  "--max-streams", "128", "--http-threads", "20", "--engine-threads", "2",
                                  "--client-buffer", "262144", "--log-level", "info"], binary)

    # Expected lengths, from one clean request each.
    want = {}
    for i, t in enumerate(TEXTS):
        want[("wyoming", i)] = wyoming(wport, t)
        want[("pcm", i)] = http(hport, t, "pcm")
        want[("wav", i)] = http(hport, t, "wav")
    assert want[("wav", 0)] == 44 + 2 * want[("wyoming", 0)], want

    # One client that asks for a long text and never reads: dropped, alone.
    hog = socket.create_connection(("127.0.0.1", wport))
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    send(hog, "synthesize", {"text": " ".join(TEXTS * 60)})

    done = [0]
    lock = threading.Lock()
    failures, counts = [], {"completed": 0, "aborted": 0, "slow": 0}
    rss = {"quarter": None}
    total = clients * requests
    t_start = time.perf_counter()

    def client(i):
        kind = ("pcm", "wav", "wyoming", "wyoming")[i % 4]
        slow = i % 8 == 5
        for j in range(requests):
            k = (i + j) % len(TEXTS)
            abort = (i * requests + j) % 9 == 4
            try:
                if kind == "wyoming":
                    got = wyoming(wport, TEXTS[k], slow, abort)
                else:
                    got = http(hport, TEXTS[k], kind, slow, abort)
                with lock:
                    if got is None:
                        counts["aborted"] += 1
                    else:
                        counts["completed"] += 1
                        counts["slow"] += slow
                        if got != want[(kind, k)]:
                            failures.append((i, j, kind, got, want[(kind, k)]))
            except Exception as e:  # noqa: BLE001 -- every failure is reported
                with lock:
                    failures.append((i, j, kind, repr(e)))
            with lock:
                done[0] += 1
                if done[0] % (total // 8) == 0:
                    rss.setdefault("trace", []).append(round(rss_kib(daemon.pid) / 1024, 1))
                if done[0] == total // 4:
                    rss["quarter"] = rss_kib(daemon.pid)
                    rss["speakers"] = speakers(hport)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t_start
    rss_end = rss_kib(daemon.pid)
    speakers_end = speakers(hport)

    # Still serving; the metrics saw it. The hog fills the kernel's socket
    # buffers (megabytes on loopback) and then its own queue: wait for its drop.
    assert wyoming(wport, TEXTS[0]) == want[("wyoming", 0)]
    for _ in range(300):
        metrics = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{hport}/metrics"], capture_output=True,
                                 text=True, timeout=30).stdout
        dropped_slow = sum(float(v) for v in re.findall(r'sidewinder_dropped_total\{protocol="wyoming",'
                                                        r'reason="slow-client"\} (\S+)', metrics))
        if dropped_slow:
            break
        time.sleep(0.1)
    hog.close()
    daemon.send_signal(signal.SIGTERM)
    rc = daemon.wait(timeout=60)

    print(f"{clients} clients x {requests} requests in {wall:.1f} s: {counts['completed']} completed "
          f"({counts['slow']} by slow readers), {counts['aborted']} hung up on purpose, {len(failures)} failures; "
          f"the never-reading client dropped: {dropped_slow:.0f}; RSS after a quarter {rss['quarter'] / 1024:.1f} MiB, "
          f"at the end {rss_end / 1024:.1f} MiB; speakers (peak concurrency) {rss['speakers']} -> {speakers_end}; exit {rc}; RSS (MiB) every eighth: {rss['trace']}")
    assert not failures, failures[:10]
    assert counts["completed"] + counts["aborted"] == total
    assert counts["aborted"] > 0 and counts["slow"] > 0
    assert dropped_slow >= 1, metrics
    if check_rss:
        assert rss_end - rss["quarter"] < 4 * 1024, (rss["quarter"], rss_end)  # flat: under 4 MiB of growth
    else:
        print("RSS not judged: sanitizer build (its quarantine keeps freed memory on purpose)")
    assert rc == 0, (rc, "".join(list(daemon.log_tail)[-60:]))


if __name__ == "__main__":
    main()
