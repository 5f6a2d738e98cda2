# SPDX-License-Identifier: GPL-3.0-or-later
"""The voice trainer's data and speaker plumbing (training/speech)."""
import json
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "speech"))
import torch  # noqa: E402

import train_voice as T  # noqa: E402
import voice as V  # noqa: E402
from sidewinder_train.audio_io import write_wav  # noqa: E402


def tiny_voice(n_speakers):
    from sidewinder_train.models import SsmConfig
    enc = SsmConfig(arch="mamba2", n_layers=1, d_model=16, d_inner=32, d_state=8, headdim=8, dt_min=1e-3, dt_max=0.1)
    dec = SsmConfig(arch="mamba2", n_layers=1, d_model=24, d_inner=48, d_state=8, headdim=8, dt_min=1e-3, dt_max=0.1)
    return V.Voice(20, emb=8, enc=enc, dec=dec, n_speakers=n_speakers).double()


def make_corpus(d, n, seed):
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(d, "wav"))
    with open(os.path.join(d, "metadata.jsonl"), "w") as f:
        for i in range(n):
            t = np.arange(int(V.RATE * (0.4 + 0.1 * i))) / V.RATE
            x = 0.3 * np.sin(2 * np.pi * (150 + 20 * i) * t) + 0.01 * rng.standard_normal(len(t))
            write_wav(os.path.join(d, "wav", f"u{i}.wav"), x.astype(np.float32), V.RATE)
            clauses = [{"phonemes": "hˈɛloʊ" if i % 2 else "wˈɜːld", "terminator": "."}]
            f.write(json.dumps({"id": f"u{i}", "text": "x", "clauses": clauses,
                                "split": "test" if i == 0 else "train"}) + "\n")


class Speakers(unittest.TestCase):
    def test_single_speaker_fold_is_exact(self):
        torch.manual_seed(3)
        m = tiny_voice(3)
        with torch.no_grad():
            m.speaker_emb.weight.normal_()
            m.speaker_dec.weight.normal_()
        ids = torch.randint(0, 20, (1, 9))
        mask = torch.ones(1, 9, dtype=torch.float64)
        for s in range(3):
            one = m.single_speaker(s)
            self.assertFalse(any("speaker" in k for k in one.state_dict()))
            spk = torch.tensor([s])
            h, h1 = m.encode(ids, mask, spk), one.encode(ids, mask)
            x = m.decoder_input(h, m.prior(h), torch.full((1, 9), 3))
            self.assertLess((h - h1).abs().max().item(), 1e-12)
            self.assertLess((m.decode(x, spk) - one.decode(x)).abs().max().item(), 1e-12)
            # and the speakers do differ (the fold is not a no-op)
            other = torch.tensor([(s + 1) % 3])
            self.assertGreater((m.decode(x, other) - one.decode(x)).abs().max().item(), 1e-3)


class Pack(unittest.TestCase):
    def test_features_pack_matches_audio_pack(self):
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "alice"), os.path.join(d, "bob")
            make_corpus(a, 3, 1)
            make_corpus(b, 2, 2)
            T.pack([a, b], os.path.join(d, "audio.npz"))
            T.pack([a, b], os.path.join(d, "feats.npz"), features_only=True)
            ua, va = T.load_packed(os.path.join(d, "audio.npz"))
            uf, vf = T.load_packed(os.path.join(d, "feats.npz"))
            self.assertEqual(va, vf)
            self.assertEqual([u["corpus"] for u in ua], ["alice"] * 3 + ["bob"] * 2)
            T.features(ua)
            lo, hi = min(u["mel"].min() for u in ua), max(u["mel"].max() for u in ua)
            for x, y in zip(ua, uf):
                self.assertEqual(x["mel"].shape, y["mel"].shape)
                # 8-bit quantisation over the corpus's range: within half a step
                self.assertLessEqual(np.abs(x["mel"] - y["mel"]).max(), (hi - lo) / 255 * 0.5 + 1e-4)
                np.testing.assert_allclose(x["f0"], y["f0"], rtol=1e-3, atol=1e-3)
                self.assertEqual(T.n_samples(x), T.n_samples(y))
            only, _ = T.load_packed(os.path.join(d, "feats.npz"), ["bob"])
            self.assertEqual(len(only), 2)
            with self.assertRaises(SystemExit):
                T.load_packed(os.path.join(d, "feats.npz"), ["carol"])


if __name__ == "__main__":
    unittest.main()
