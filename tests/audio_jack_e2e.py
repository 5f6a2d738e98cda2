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

Then `sidewinderd --play --midi virtual`: a Wyoming request is also said
aloud (played without an underrun), and its MIDI port exists.

usage: audio_jack_e2e.py SIDEWINDER_TESTS SIDEWINDER MODEL SIDEWINDERD
"""
import json
import re
import signal
import os
import subprocess
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_load import wyoming  # noqa: E402 -- the Wyoming client of the load test
from daemon_wyoming_e2e import start  # noqa: E402


def main():
    tests, cli, model, daemon_bin = sys.argv[1:5]
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
                                 "--duration", "4", "--midi", "virtual", "--midi-api", "jack"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in live.stderr:
            if "running" in line:
                break
        c = subprocess.run(["jack_connect", "sidewinder:out_0", "sidewinder:in_0"], env=env, capture_output=True,
                           text=True)
        assert c.returncode == 0, c.stderr
        # a MIDI keyboard: program change 1 (the second preset beside the model), CC 21 (mix)
        r = subprocess.run([tests, "[.midi-send]"], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout[-2000:]
        out, err = live.communicate(timeout=60)
        assert live.returncode == 0, out + err[-2000:]
        j = json.loads(out.strip().splitlines()[-1])
        assert j["midi_messages"] == 2 and j["program_changes"] == 1, j
        assert "program 1: " in err, err[-2000:]
        # JACK here runs without real-time priority on a shared machine: a rare late callback is
        # the machine's; more than 1 % would be ours. Each is counted with its silence.
        assert j["underruns"] <= j["callbacks"] // 100 and j["overruns"] <= j["callbacks"] // 100, j
        assert j["silence_frames"] <= j["underruns"] * j["period"], j
        rt = j["round_trip_frames"]
        assert len(rt) >= 4, j
        # the effect's block, plus JACK's loop of two periods: nothing more
        assert max(rt) <= j["block"] + 2 * j["period"] + j["period"], j
        print(f"live: round trip through the model {j['round_trip_ms_median']:.1f} ms median "
              f"({rt[0]} frames at {j['sample_rate']:.0f} Hz, period {j['period']}, block {j['block']}), "
              f"{j['callbacks']} callbacks, {j['underruns']} underruns; MIDI: {j['midi_messages']} messages, "
              f"{j['program_changes']} preset swapped in")

        os.environ.update(env)  # the daemon started below talks to this JACK server too
        d, wport, hport = start(["--port", "0", "--http-port", "0", "--play", "--audio-api", "jack",
                                 "--midi", "virtual", "--midi-api", "jack"], daemon_bin)
        ports = {"tcp": wport, "http": hport}
        lsp = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout
        assert "sidewinder-midi:midi_in" in lsp, lsp
        samples = wyoming(ports["tcp"], "Spoken here and there.")
        metrics, want_frames = "", samples * 48000 / 16000
        for _ in range(100):  # said aloud: all of it through the device
            metrics = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{ports['http']}/metrics"],
                                     capture_output=True, text=True).stdout
            m = re.search(r"^sidewinder_play_frames_total (\S+)", metrics, re.M)
            if re.search(r"^sidewinder_play_spoken_total 1", metrics, re.M) and m and float(m.group(1)) > want_frames:
                break
            time.sleep(0.1)
        gauge = {k: float(v) for k, v in re.findall(r"^(sidewinder_play_\w+) (\S+)", metrics, re.M)}
        d.send_signal(signal.SIGTERM)
        assert d.wait(timeout=30) == 0
        assert gauge["sidewinder_play_spoken_total"] == 1 and gauge["sidewinder_play_underruns_total"] == 0, gauge
        assert gauge["sidewinder_play_frames_total"] > want_frames, (gauge, want_frames)
        print(f"sidewinderd --play: said aloud, {gauge['sidewinder_play_frames_total']:.0f} frames played, "
              f"{gauge['sidewinder_play_underruns_total']:.0f} underruns; MIDI port sidewinder-midi:midi_in present")
    finally:
        jackd.terminate()
        jackd.wait(timeout=10)


if __name__ == "__main__":
    main()
