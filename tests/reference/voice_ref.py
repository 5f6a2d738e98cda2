#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""An independent float64 NumPy implementation of a Sidewinder voice
(docs/speech.md), and the golden vectors the C++ voice is tested against.

The reference reads a voice file with mamba_ref's safetensors reader, runs
its three sequence models with mamba_ref.run (sample by sample, float64),
and re-implements the heads, durations, decoder inputs, the synthesiser's
frame parameters (hns_frames) and the waveform (harmonics + filtered noise,
SplitMix64 noise as the C++ NoiseSource) with plain loops and np.interp. It
shares no code with training/speech/voice.py, which it is checked against
(--check-torch: PyTorch in float64, Voice.encode/decoder/frames and
synthesise_mel on the same noise).

  voice_ref.py tiny           writes tests/data/voice/tiny_voice.safetensors (a
                              seeded random voice, small shapes; needs PyTorch
                              to build it) and tiny_voice.golden.safetensors
  voice_ref.py golden VOICE OUT [--ids ...]
                              golden vectors for any voice file (the shipped one)
  voice_ref.py check-torch VOICE
                              compares this reference with the PyTorch model

Golden file tensors, for each case k: ids_k, durations_k [N] (float32 of
ints), mel_k [T, M], f0_k [T], voiced_k [T], audio_k [T * hop]; metadata
case_k = JSON {length_scale, pitch_semitones, seed}. Deterministic: running
it again gives byte-identical files.
"""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mamba_ref as R  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "data", "voice")
MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------- the voice
class Voice:
    def __init__(self, path):
        tensors, meta = R.read_safetensors(path)
        assert meta.get("format") == "sidewinder-voice" and meta.get("format_version") == "1", path
        assert meta.get("synthesiser") == "hns-mel-1", path
        self.meta = meta
        self.t = {k: np.asarray(v, dtype=np.float64) for k, v in tensors.items()}
        self.vocab = json.loads(meta["phoneme_map"])
        self.models = {}
        for prefix, rate in (("enc_fwd", "0"), ("enc_bwd", "0"), ("decoder", "100")):
            sub = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
            m = dict(json.loads(meta[prefix]), format="sidewinder", format_version="1", sample_rate=rate)
            self.models[prefix] = R.model_from_tensors(sub, m, f"{path}:{prefix}")
        g = lambda k: int(meta[k])  # noqa: E731
        self.rate, self.hop, self.n_fft, self.K = g("sample_rate"), g("hop"), g("n_fft"), g("harmonics")
        self.Bn, self.L = g("noise_bands"), g("noise_taps")
        self.vmax = float(meta["voiced_max_hz"])
        self.sine_e, self.noise_e = float(meta["sine_energy"]), float(meta["noise_energy"])
        self.f0_min, self.f0_max = float(meta["f0_min"]), float(meta["f0_max"])
        self.M = self.t["prior.weight"].shape[0]

    def encode(self, ids):
        e = self.t["embedding.weight"][ids]                                 # (N, C)
        hf = R.run(self.models["enc_fwd"], e)
        hb = R.run(self.models["enc_bwd"], e[::-1].copy())[::-1]
        return hf + hb                                                      # (N, H)

    def durations(self, h, length_scale):
        x = h @ self.t["duration.weight"][0] + self.t["duration.bias"][0]
        frames = np.round(np.expm1(np.minimum(x, 12.0)))                    # half to even, as torch.round
        return np.clip(np.round(frames * length_scale), 1, 2000).astype(np.int64)

    def frames(self, ids, length_scale=1.0, pitch=0.0):
        """-> durations (N,), log-mel (T, M), f0 (T,), voicing (T,)."""
        h = self.encode(ids)
        mu = h @ self.t["prior.weight"].T + self.t["prior.bias"]            # (N, M)
        dur = self.durations(h, length_scale)
        rows, idx = [], []
        for i, d in enumerate(dur):
            for p in range(d):
                rows.append(np.concatenate([h[i], mu[i], [p / d, 1.0 / d]]))
                idx.append(i)
        out = R.run(self.models["decoder"], np.array(rows))                 # (T, 2 + M)
        mel = mu[idx] + out[:, 2:]
        f0 = np.clip(np.exp(out[:, 0]), self.f0_min * 0.5, self.f0_max * 1.5) * 2.0 ** (pitch / 12.0)
        f0 = np.clip(f0, 20.0, self.rate * 0.45)
        voiced = 1.0 / (1.0 + np.exp(-out[:, 1]))
        return dur, mel, f0, voiced

    def hns_frame(self, mel, f0, voiced):
        """One frame -> harmonic amplitudes (K,), noise gains (Bn,). See docs/speech.md."""
        bin_hz = self.rate / self.n_fft
        F = self.n_fft // 2 + 1
        centres = self.t["synth.mel_centres_hz"]
        log_s = mel - np.log(self.t["synth.mel_areas"])
        S = np.exp(np.interp(np.arange(F) * bin_hz, centres, log_s))      # per-bin energy
        C = np.concatenate([[0.0], np.cumsum(S)])

        def below(f):  # energy of the bins below f; bin j spans [j - 1/2, j + 1/2) bins
            p = min(max(f / bin_hz + 0.5, 0.0), float(F))
            j = min(math.floor(p), F - 1)
            return C[j] + (p - j) * (C[j + 1] - C[j])
        amps = np.zeros(self.K)
        for k in range(1, self.K + 1):
            fk = k * f0
            if fk < self.vmax and fk < self.rate / 2 * 0.95:
                amps[k - 1] = math.sqrt(max(below(fk + f0 / 2) - below(fk - f0 / 2), 0.0) / self.sine_e) * voiced
        edges = self.t["synth.noise_edges_hz"]
        gains = np.zeros(self.Bn)
        for b in range(self.Bn):
            mean_s = (below(edges[b + 1]) - below(edges[b])) / ((edges[b + 1] - edges[b]) / bin_hz)
            share = 1.0 - voiced * (1.0 if (edges[b] + edges[b + 1]) / 2 < self.vmax else 0.0)
            gains[b] = math.sqrt(max(mean_s, 0.0) * share / self.noise_e)
        return amps, gains

    def synthesise(self, f0, amps, gains, noise):
        """Frames (T,), (T, K), (T, Bn); noise (T*hop,) -> samples (T*hop,)."""
        T, hop = len(f0), self.hop
        nxt = np.minimum(np.arange(T) + 1, T - 1)
        w = (np.arange(T * hop) % hop) / hop
        t = np.arange(T * hop) // hop
        up = lambda v: v[t] + (w if v.ndim == 1 else w[:, None]) * (v[nxt][t] - v[t])  # noqa: E731
        phase = np.cumsum(up(f0) / self.rate)
        phase -= np.floor(phase)
        k = np.arange(1, self.K + 1)
        y = np.sum(up(amps) * np.sin(2 * np.pi * phase[:, None] * k), axis=1)
        filt = self.t["synth.noise_filters"]                                # (Bn, L)
        padded = np.concatenate([np.zeros(self.L - 1), noise])
        G = up(gains)
        for b in range(self.Bn):  # y_s += g_b(s) sum_j h_b[j] n[s - (L-1) + j]
            y += G[:, b] * np.correlate(padded, filt[b], mode="valid")
        return y

    def speak(self, ids, length_scale=1.0, pitch=0.0, seed=0x5EED):
        dur, mel, f0, voiced = self.frames(ids, length_scale, pitch)
        ag = [self.hns_frame(mel[i], f0[i], voiced[i]) for i in range(len(f0))]
        amps = np.array([a for a, _ in ag])
        gains = np.array([g for _, g in ag])
        noise = splitmix_noise(seed, len(f0) * self.hop)
        return dur, mel, f0, voiced, self.synthesise(f0, amps, gains, noise)


def splitmix_noise(seed, n):
    """The C++ NoiseSource: SplitMix64, top 24 bits -> uniform [-sqrt 3, sqrt 3), as float32."""
    out = np.empty(n, dtype=np.float32)
    s = seed & MASK64
    for i in range(n):
        s = (s + 0x9E3779B97F4A7C15) & MASK64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        out[i] = (2.0 * ((z >> 40) / 16777216.0) - 1.0) * 1.7320508075688772
    return out


# ---------------------------------------------------------------- fixtures
CASES = [dict(length_scale=1.0, pitch_semitones=0.0, seed=0x5EED),
         dict(length_scale=1.37, pitch_semitones=3.0, seed=7)]


def write_golden(voice_path, out_path, id_lists):
    v = Voice(voice_path)
    tensors, meta = {}, {"voice": os.path.basename(voice_path)}
    for k, (ids, case) in enumerate(zip(id_lists, CASES)):
        dur, mel, f0, voiced, audio = v.speak(np.array(ids), case["length_scale"], case["pitch_semitones"],
                                              case["seed"])
        tensors.update({f"ids_{k}": np.array(ids, np.float32), f"durations_{k}": dur.astype(np.float32),
                        f"mel_{k}": mel, f"f0_{k}": f0, f"voiced_{k}": voiced, f"audio_{k}": audio})
        meta[f"case_{k}"] = json.dumps(case)
        print(f"case {k}: {len(ids)} ids, {int(dur.sum())} frames, max |audio| {np.abs(audio).max():.4f}")
    R.write_safetensors(out_path, tensors, meta)
    print("wrote", out_path)


def sentence_ids(vocab, phonemes):
    ids = [vocab["<bos>"]] + [vocab[c] for c in phonemes if c in vocab] + [vocab["<eos>"]]
    return ids


def make_tiny():
    """A seeded random voice with small shapes (PyTorch builds and exports it)."""
    sys.path.insert(0, os.path.join(ROOT, "training"))
    sys.path.insert(0, os.path.join(ROOT, "training", "speech"))
    import torch
    import voice as TV
    from sidewinder_train.models import SsmConfig
    symbols = TV.SPECIALS + TV.TERMINATORS + sorted(set("həlˈoʊwɜːdæbtkmnpsɪiɛŋɹ"))
    vocab = {s: i for i, s in enumerate(symbols)}
    enc = SsmConfig(arch="mamba2", n_layers=2, d_model=16, d_inner=32, d_state=8, headdim=8, dt_min=1e-3, dt_max=0.1)
    dec = SsmConfig(arch="mamba2", n_layers=2, d_model=24, d_inner=48, d_state=8, headdim=8, dt_min=1e-3, dt_max=0.1)
    torch.manual_seed(1234)
    m = TV.Voice(len(vocab), emb=8, enc=enc, dec=dec, seed=5)
    with torch.no_grad():  # a few frames per phoneme, a mel spectrum of speech-like level, f0 that moves
        m.duration.weight.mul_(0.3)
        m.duration.bias.fill_(math.log(1 + 4.0))
        m.prior.bias.copy_(torch.linspace(-2.0, -9.0, TV.N_MELS))
        m.decoder.audio.out_proj.weight[0].mul_(3.0)
        m.decoder.audio.out_proj.weight[2:].mul_(20.0)
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "tiny_voice.safetensors")
    TV.export(m, vocab, path, {"name": "tiny-test-voice", "license": "GPL-3.0-or-later", "language": "en-US",
                               "description": "seeded random weights, for tests only"},
              {"purpose": "tests/reference/voice_ref.py tiny"})
    ids = [sentence_ids(vocab, "həlˈoʊ wˈɜːld."), sentence_ids(vocab, "ðə kˈæt sˈæt.")]
    write_golden(path, os.path.join(OUT_DIR, "tiny_voice.golden.safetensors"), ids)
    check_torch(path, ids)


def check_torch(voice_path, id_lists=None):
    """This reference against the PyTorch model (float64) on the same ids and noise."""
    sys.path.insert(0, os.path.join(ROOT, "training"))
    sys.path.insert(0, os.path.join(ROOT, "training", "speech"))
    import torch
    import voice as TV
    model, vocab = TV.load_voice(voice_path)
    model = model.double().eval()
    v = Voice(voice_path)
    if id_lists is None:
        id_lists = [sentence_ids(vocab, "ðɪs ɪz ɐ tˈɛst.")]
    worst = worst_audio = 0.0
    for ids in id_lists:
        dur, mel, f0, voiced, audio = v.speak(np.array(ids))
        t_ids = torch.tensor([ids])
        with torch.no_grad():
            h = model.encode(t_ids, torch.ones(1, len(ids), dtype=torch.float64))
            mu = model.prior(h)
            d = torch.clamp(torch.round(torch.expm1(model.duration(h).squeeze(-1))), min=1).long()
            params = model.decoder(model.decoder_input(h, mu, d))
            idx, _, _ = TV._expand_index(d)
            mel_t, f0_t, vo_t = model.frames(params, torch.gather(mu, 1, idx.unsqueeze(-1).expand(-1, -1, TV.N_MELS)))
            noise = torch.from_numpy(splitmix_noise(0x5EED, params.shape[1] * TV.HOP).astype(np.float64))[None]
            geo = (v.t["synth.mel_centres_hz"], v.t["synth.mel_areas"], None, v.t["synth.noise_edges_hz"])
            geo = (geo[0], geo[1], np.stack([np.interp(np.arange(TV.N_FFT // 2 + 1) * TV.BIN_HZ, geo[0],
                                                       np.eye(TV.N_MELS)[m]) for m in range(TV.N_MELS)], 1), geo[3])
            y = TV.synthesise_mel(mel_t, f0_t, vo_t, noise, torch.from_numpy(v.t["synth.noise_filters"]), geo)[0]
        assert np.array_equal(d[0].numpy(), dur), "durations differ"
        rel = lambda a, b: np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)  # noqa: E731
        errs = {"mel": rel(mel_t[0].numpy(), mel), "f0": rel(f0_t[0, :, 0].numpy(), f0),
                "voiced": np.abs(vo_t[0, :, 0].numpy() - voiced).max(),
                "audio": rel(y.numpy(), audio)}
        print("reference vs PyTorch (float64), max |difference| / max |reference|:", {k: f"{e:.1e}" for k, e in errs.items()})
        worst = max(worst, errs["mel"], errs["f0"], errs["voiced"])
        worst_audio = max(worst_audio, errs["audio"])
    # Both float64: what is left is the order of operations (the SSD form of the scan in PyTorch,
    # step by step here): ~1e-8 on the frames; the audio integrates f0 into phase, which
    # multiplies that by harmonic number and time (measured up to 1.3e-6 on the shipped
    # voices). A semantic difference shows at 1e-3 or more.
    assert worst < 1e-6, f"reference and PyTorch disagree on the frames: {worst}"
    assert worst_audio < 1e-5, f"reference and PyTorch disagree on the audio: {worst_audio}"
    print("reference agrees with PyTorch")


def main(argv):
    if len(argv) >= 1 and argv[0] == "tiny":
        make_tiny()
    elif len(argv) >= 3 and argv[0] == "golden":
        v = Voice(argv[1])
        ids = [sentence_ids(v.vocab, "ðɪs ɪz ɐ tˈɛst ʌv ðə sˈaɪdwɪndɚ vˈɔɪs."), sentence_ids(v.vocab, "hˈaʊ ɑːɹ juː?")]
        write_golden(argv[1], argv[2], ids)
    elif len(argv) >= 2 and argv[0] == "check-torch":
        check_torch(argv[1])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
