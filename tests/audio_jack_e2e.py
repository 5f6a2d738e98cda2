#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PortAudio against a real backend without sound hardware: a JACK server
with the dummy driver (48 kHz, 256-frame periods, not real-time), private to
this test (its own server name). Runs the hidden [.jack] unit tests (player
underrun accounting, the callbacks' allocations, duplex), then
`sidewinder speak --play` (every frame played, no underrun) and
`sidewinder live --model` with its output routed back to its input
(jack_connect) to measure the round trip through the model. Prints the
figures. Run by CTest (audio_jack_end_to_end).

usage: audio_jack_e2e.py SIDEWINDER_TESTS SIDEWINDER MODEL
"""
import json
import os
import subprocess
import sys
import time


def main():
    tests, cli, model = sys.argv[1:4]
    supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan_audio.supp")
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"sidewinder-test-{os.getpid()}", JACK_NO_AUDIO_RESERVATION="1",
               LSAN_OPTIONS=f"suppressions={supp}")
    jackd = subprocess.Popen(["jackd", "--no-realtime", "-n", env["JACK_DEFAULT_SERVER"], "-d", "dummy",
                              "-r", "48000", "-p", "256"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("jackd (dummy driver) did not start")
        r = subprocess.run([tests, "[.jack]"], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
        print(r.stdout.strip().splitlines()[-1])

        r = subprocess.run([cli, "speak", "--play", "--audio-api", "jack", "--json",
                            "Hello from the sound device, through JACK."],
                           env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr[-2000:]
        s = json.loads(r.stdout.strip().splitlines()[-1])
        want = s["samples"] * 48000 / s["sample_rate"]
        assert s["play"]["underruns"] == 0, s
        assert s["play"]["frames"] >= want, (s["play"]["frames"], want)
        print(f"speak --play: {s['play']['frames']} frames played for {want:.0f} of speech, "
              f"{s['play']['underruns']} underruns")

        live = subprocess.Popen([cli, "live", "--model", model, "--audio-api", "jack", "--measure-latency", "8",
                                 "--duration", "4"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        for line in live.stderr:
            if "running" in line:
                break
        c = subprocess.run(["jack_connect", "sidewinder:out_0", "sidewinder:in_0"], env=env, capture_output=True,
                           text=True)
        assert c.returncode == 0, c.stderr
        out, _ = live.communicate(timeout=60)
        assert live.returncode == 0, out
        j = json.loads(out.strip().splitlines()[-1])
        assert j["underruns"] == 0 and j["overruns"] == 0, j
        rt = j["round_trip_frames"]
        assert len(rt) >= 4, j
        # the effect's block, plus JACK's loop of two periods: nothing more
        assert max(rt) <= j["block"] + 2 * j["period"] + j["period"], j
        print(f"live: round trip through the model {j['round_trip_ms_median']:.1f} ms median "
              f"({rt[0]} frames at {j['sample_rate']:.0f} Hz, period {j['period']}, block {j['block']}), "
              f"{j['callbacks']} callbacks, {j['underruns']} underruns")
    finally:
        jackd.terminate()
        jackd.wait(timeout=10)


if __name__ == "__main__":
    main()
