# SPDX-License-Identifier: GPL-3.0-or-later
"""The trainer's own tests (CTest runs: python3 -m unittest discover training/tests).
Alignment and refusal paths, the parallel scan against its loop, streaming
state hand-over, WAV round trips."""
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import torch  # noqa: E402

from sidewinder_train import align, capture_layout as layout  # noqa: E402
from sidewinder_train.audio_io import read_wav, write_wav  # noqa: E402
from sidewinder_train.cli import main as cli_main  # noqa: E402
from sidewinder_train.errors import TrainError  # noqa: E402
from sidewinder_train.models import make_model  # noqa: E402
from sidewinder_train.scan import scan, scan_reference, ssd  # noqa: E402
from synthetic import synthetic_capture, toy_device  # noqa: E402

R = layout.SAMPLE_RATE


class Alignment(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.x = synthetic_capture()

    def test_latency_found(self):
        for lat in (0, 1, 37, 1000):
            p = align.check_and_align(self.x, R, toy_device(self.x, latency=lat), R)
            self.assertEqual(p.latency, lat)
            self.assertLess(p.self_esr, 1e-12)
            # the aligned target is the undelayed device output
            np.testing.assert_allclose(p.y[:len(self.x) - lat], toy_device(self.x)[:len(self.x) - lat], atol=1e-12)

    def test_inverted_device(self):
        self.assertEqual(align.check_and_align(self.x, R, -toy_device(self.x, latency=5), R).latency, 5)

    def test_lengths_differ(self):
        y = toy_device(self.x)
        with self.assertRaisesRegex(TrainError, "lengths differ.*target has %d" % (len(y) - 100)):
            align.check_and_align(self.x, R, y[:-100], R)

    def test_rates_differ(self):
        with self.assertRaisesRegex(TrainError, "sample rates differ.*44100 Hz"):
            align.check_and_align(self.x, R, toy_device(self.x), 44100)

    def test_not_the_capture(self):
        with self.assertRaisesRegex(TrainError, "the standard capture v1 has"):
            align.check_and_align(self.x[:-48000], R, toy_device(self.x)[:-48000], R)

    def test_drift_refused(self):
        # the recording loses 40 samples somewhere in the middle: start and end latencies disagree
        y = toy_device(self.x, latency=10)
        mid = len(y) // 2
        y = np.concatenate([y[:mid], y[mid + 40:], np.zeros(40)])
        with self.assertRaisesRegex(TrainError, "does not line up: latency 10 samples at the start but -30"):
            align.check_and_align(self.x, R, y, R)

    def test_late_beyond_max_latency_refused(self):
        y = toy_device(self.x, latency=int(0.2 * R))
        with self.assertRaisesRegex(TrainError, "sync impulses at the start"):
            align.check_and_align(self.x, R, y, R, max_latency_ms=100)

    def test_unrelated_recording_refused(self):
        y = 0.1 * np.random.default_rng(3).standard_normal(len(self.x))
        with self.assertRaises(TrainError):
            align.check_and_align(self.x, R, y, R)

    def test_not_repeatable(self):
        y = toy_device(self.x)
        (b0, b1) = layout.repeat_pair()[1]
        y[b0:b1] += 0.05 * np.random.default_rng(4).standard_normal(b1 - b0)
        with self.assertRaisesRegex(TrainError, "not repeatable.*self-ESR"):
            align.check_and_align(self.x, R, y, R)

    def test_cli_refuses_with_exit_2(self):
        with tempfile.TemporaryDirectory() as d:
            xi, yi = os.path.join(d, "in.wav"), os.path.join(d, "out.wav")
            write_wav(xi, self.x, R)
            write_wav(yi, toy_device(self.x)[:-7], R)
            self.assertEqual(cli_main([xi, yi, "--check-only"]), 2)
            write_wav(yi, toy_device(self.x, latency=3), R)
            self.assertEqual(cli_main([xi, yi, "--check-only"]), 0)
            with open(yi, "wb") as f:
                f.write(b"RIFF\0\0\0\0WAVEjunk")
            self.assertEqual(cli_main([xi, yi, "--check-only"]), 2)


class CommandLine(unittest.TestCase):
    def test_train_export_report_end_to_end(self):
        # the whole one-command path on the CPU, a few steps: model file, metadata, report folder
        from sidewinder_train import safetensors_io
        x = synthetic_capture()
        with tempfile.TemporaryDirectory() as d:
            xi, yi, out = os.path.join(d, "in.wav"), os.path.join(d, "out.wav"), os.path.join(d, "p.safetensors")
            write_wav(xi, x, R)
            write_wav(yi, toy_device(x, latency=2), R)
            rc = cli_main([xi, yi, "-o", out, "--arch", "mamba2", "--size", "pico", "--steps", "4", "--batch", "2",
                           "--window", "2048", "--eval-every", "2", "--device", "cpu", "--name", "e2e"])
            self.assertEqual(rc, 0)
            tensors, meta = safetensors_io.load(out)
            for k in ("name", "held_out_esr", "loudness_lufs", "target_loudness_lufs", "training", "sample_rate"):
                self.assertIn(k, meta)
            self.assertEqual(meta["name"], "e2e")
            self.assertEqual(meta["latency_samples"], "2")
            for f in ("loss.png", "excerpts.png", "spectra.png", "metrics.json"):
                self.assertTrue(os.path.getsize(os.path.join(d, "p.report", f)) > 0, f)

    def test_size_not_of_this_arch_refused(self):
        with self.assertRaises(SystemExit) as e:
            cli_main(["a.wav", "b.wav", "-o", "x.safetensors", "--arch", "mamba1", "--size", "pico"])
        self.assertEqual(e.exception.code, 2)


class Wav(unittest.TestCase):
    def test_round_trip(self):
        x = np.sin(np.arange(1000) * 0.01) * 0.9
        with tempfile.TemporaryDirectory() as d:
            for fl, tol in ((True, 1e-7), (False, 2 ** -23)):
                p = os.path.join(d, "a.wav")
                write_wav(p, x, 44100, float32=fl)
                y, r = read_wav(p)
                self.assertEqual(r, 44100)
                self.assertLessEqual(np.max(np.abs(x - y)), tol)

    def test_refusals(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "bad.wav")
            with open(p, "wb") as f:
                f.write(b"not a wav")
            with self.assertRaisesRegex(TrainError, "not a WAV file"):
                read_wav(p)
            with self.assertRaisesRegex(TrainError, "cannot read"):
                read_wav(os.path.join(d, "missing.wav"))


class Kernels(unittest.TestCase):
    def test_parallel_scan_equals_loop(self):
        g = torch.Generator().manual_seed(0)
        for T in (1, 7, 64, 65, 1000, 4097):
            a = torch.rand(2, T, 3, 1, 1, generator=g, dtype=torch.float64)
            b = torch.randn(2, T, 3, 2, 4, generator=g, dtype=torch.float64)
            h0 = torch.randn(2, 3, 2, 4, generator=g, dtype=torch.float64)
            err = (scan(a, b, h0) - scan_reference(a, b, h0)).abs().max().item()
            self.assertLess(err, 1e-12, T)  # float64: only rounding differs

    def test_models_stream_and_match_reference_path(self):
        for arch in ("mamba1", "mamba2", "lstm16"):
            m = make_model(arch, "s", seed=2).double()
            u = torch.randn(2, 700, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
            with torch.no_grad():
                y, _ = m(u)
                y_ref, _ = m(u, reference=True)
                ya, st = m(u[:, :333])
                yb, _ = m(u[:, 333:], st)
            self.assertLess((y - y_ref).abs().max().item(), 1e-12, arch)
            self.assertLess((torch.cat([ya, yb], 1) - y).abs().max().item(), 1e-12, arch)

    def test_ssd_equals_loop(self):
        """Mamba-2's chunked matrix form against the step-by-step scan, with a carried state."""
        g = torch.Generator().manual_seed(4)
        for T in (1, 5, 64, 65, 300):
            x = torch.randn(2, T, 3, 4, generator=g, dtype=torch.float64)
            dt = torch.rand(2, T, 3, generator=g, dtype=torch.float64)
            A = -3 * torch.rand(3, generator=g, dtype=torch.float64)
            B = torch.randn(2, T, 3, 5, generator=g, dtype=torch.float64)
            C = torch.randn(2, T, 3, 5, generator=g, dtype=torch.float64)
            h0 = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
            s = scan_reference(torch.exp(dt * A)[..., None, None], (dt[..., None] * x).unsqueeze(-1) * B.unsqueeze(3), h0)
            y, last = ssd(x, dt, A, B, C, h0, chunk=16)
            self.assertLess((y - (s * C.unsqueeze(3)).sum(-1)).abs().max().item(), 1e-11, T)
            self.assertLess((last - s[:, -1]).abs().max().item(), 1e-11, T)

    def test_mamba2_ssd_path_matches_reference_path(self):
        m = make_model("mamba2", "s", seed=3).double()
        for mod in m.modules():
            if hasattr(mod, "use_ssd"):
                mod.use_ssd = True
        u = torch.randn(2, 500, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            y, _ = m(u)
            y_ref, _ = m(u, reference=True)
        self.assertLess((y - y_ref).abs().max().item(), 1e-12)


if __name__ == "__main__":
    unittest.main()
