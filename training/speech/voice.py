# SPDX-License-Identifier: GPL-3.0-or-later
"""The Sidewinder voice (v1), in PyTorch: an SSM text-to-speech model whose
every sequence model is a Sidewinder audio model (the C++ engine's
`audio.in_proj -> Mamba blocks -> norm_f -> audio.out_proj`, multi-channel),
so the engine runs it unchanged.

  phoneme ids  --embedding-->  (N, C)
  encoder      forward SSM + backward SSM (on the reversed sequence), summed: (N, H)
               (may look at the whole sentence)
  prior        linear H -> 80: per-phoneme mean log-mel; trains the alignment
  durations    linear H -> 1: log(1 + frames)
  alignment    monotonic alignment search (Glow-TTS, Kim et al. 2020) of the
               log-mel frames against the prior: learnt, no external aligner
  decoder      causal SSM at 100 frames/s over [h, prior, progress in the
               phoneme]: log f0, voicing, a spectral envelope (M points on
               the mel scale) and noise-band gains -- it streams, frame by
               frame
  synthesiser  harmonic-plus-noise (DDSP, Engel et al. 2020): K harmonics of
               f0, harmonic k with the amplitude the envelope has at k*f0
               (so timbre does not move when f0 is shifted or overridden),
               plus white noise through B fixed band-pass FIR filters;
               parameters interpolated linearly between frames (one frame
               of look-ahead: 10 ms)

Trained with: prior loss (aligned log-mel MSE), duration MSE, multi-
resolution STFT loss on the waveform, f0 L1 and voicing BCE against YIN.

Shapes: B batch, N phonemes, T frames, S samples (= T * HOP).
"""
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from sidewinder_train.models import Block, SsmConfig, rmsnorm

RATE = 16000
HOP = 160            # 10 ms frames
N_MELS = 80
N_FFT = 1024
WIN = 640
K_HARM = 48          # harmonics
N_ENV = 48           # spectral-envelope points, uniform on the mel scale from 0 to RATE/2
B_NOISE = 24         # noise bands
NOISE_TAPS = 129     # FIR length of each noise band
F0_MIN, F0_MAX = 60.0, 500.0
SPECIALS = ["<pad>", "<bos>", "<eos>", " "]
TERMINATORS = [",", ".", "?", "!", ":", ";"]


# ---------------------------------------------------------------- phonemes
def build_vocab(corpus_items):
    """Symbols: specials, terminators, then every codepoint of the corpus's
    phonemes (sorted): {symbol: id}."""
    chars = set()
    for it in corpus_items:
        for c in it["clauses"]:
            chars.update(c["phonemes"])
    chars.discard(" ")
    symbols = SPECIALS + TERMINATORS + sorted(chars - set(TERMINATORS))
    return {s: i for i, s in enumerate(symbols)}


def tokens(clauses, vocab):
    """[bos, phonemes of clause 1, terminator, ' ', phonemes of clause 2, ..., eos]; unknown
    codepoints are skipped (reported by the caller)."""
    ids = [vocab["<bos>"]]
    for k, c in enumerate(clauses):
        if k:
            ids.append(vocab[" "])
        for ch in c["phonemes"]:
            if ch in vocab:
                ids.append(vocab[ch])
        if c.get("terminator"):
            ids.append(vocab[c["terminator"]])
    ids.append(vocab["<eos>"])
    return ids


# ---------------------------------------------------------------- features
def mel_filterbank(n_fft=N_FFT, n_mels=N_MELS, rate=RATE, fmin=0.0, fmax=8000.0):
    """(n_mels, n_fft//2+1) triangular filters on the HTK mel scale."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    pts = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fb = np.zeros((n_mels, len(freqs)))
    for m in range(n_mels):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        fb[m] = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0, None)
    return fb


def log_mel(x, fb):
    """x (B, S) -> (B, T, N_MELS), T = S // HOP frames centred on k*HOP + HOP/2."""
    pad = (N_FFT - HOP) // 2
    xp = F.pad(x.unsqueeze(1), (pad, pad + N_FFT), mode="reflect").squeeze(1)
    spec = torch.stft(xp, N_FFT, HOP, WIN, torch.hann_window(WIN, device=x.device), center=False,
                      return_complex=True).abs()                       # (B, F, T')
    T = x.shape[-1] // HOP
    mel = torch.einsum("mf,bft->btm", fb, spec[..., :T] ** 2)
    return torch.log(mel + 1e-5)


def yin_f0(x, rate=RATE, hop=HOP, frame=640, threshold=0.15):
    """f0 (Hz, 0 where unvoiced) per frame centred like log_mel; numpy, x (S,)."""
    tau_min, tau_max = int(rate / F0_MAX), int(rate / F0_MIN)
    W = frame - tau_max
    T = len(x) // hop
    xp = np.pad(x, (frame // 2, frame))
    f0 = np.zeros(T)
    idx = np.arange(T) * hop + hop // 2
    frames = np.stack([xp[i:i + frame] for i in idx])                   # (T, frame)
    # difference function d(tau) = sum_j (x_j - x_{j+tau})^2, j < W
    e0 = np.sum(frames[:, :W] ** 2, axis=1)
    cs = np.cumsum(np.pad(frames ** 2, ((0, 0), (1, 0))), axis=1)
    taus = np.arange(tau_max + 1)
    etau = cs[:, taus + W] - cs[:, taus]                                # (T, tau)
    spec_a = np.fft.rfft(frames[:, :W], 2 * frame)
    spec_b = np.fft.rfft(frames, 2 * frame)
    corr = np.fft.irfft(np.conj(spec_a) * spec_b, 2 * frame)[:, : tau_max + 1]
    d = e0[:, None] + etau - 2 * corr
    d[:, 0] = 0
    cmnd = d[:, 1:] * np.arange(1, tau_max + 1) / np.maximum(np.cumsum(d[:, 1:], axis=1), 1e-12)
    cmnd = np.concatenate([np.ones((T, 1)), cmnd], axis=1)
    energy = e0 / W
    for t in range(T):
        c = cmnd[t]
        below = np.nonzero(c[tau_min:] < threshold)[0]
        if len(below) == 0 or energy[t] < 1e-6:
            continue
        k = below[0] + tau_min
        while k + 1 <= tau_max and c[k + 1] < c[k]:
            k += 1
        if 1 <= k < tau_max:  # parabolic refinement
            a, b, cc = c[k - 1], c[k], c[k + 1]
            den = a - 2 * b + cc
            k = k + (0.5 * (a - cc) / den if abs(den) > 1e-12 else 0.0)
        f0[t] = rate / k
    return f0


# ---------------------------------------------------------------- models
class SeqSsm(nn.Module):
    """(B, T, C_in) -> (B, T, C_out): the engine's audio model with several channels
    (same tensor names, so the C++ loader reads it)."""

    def __init__(self, cfg: SsmConfig, c_in, c_out, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.cfg = cfg
        self.audio = nn.Module()
        self.audio.in_proj = nn.Linear(c_in, cfg.d_model)
        self.audio.out_proj = nn.Linear(cfg.d_model, c_out)
        self.backbone = nn.Module()
        self.backbone.layers = nn.ModuleList([Block(cfg, gen) for _ in range(cfg.n_layers)])
        self.backbone.norm_f = nn.Module()
        self.backbone.norm_f.weight = nn.Parameter(torch.ones(cfg.d_model))

    def forward(self, x, bias=None):
        """bias (B, d_model): added after audio.in_proj (a speaker's; folded into its bias on export)."""
        cfg = self.cfg
        r = self.audio.in_proj(x)
        if bias is not None:
            r = r + bias.unsqueeze(1)
        for blk in self.backbone.layers:
            out, _ = blk.mixer(rmsnorm(r, blk.norm.weight, cfg.norm_eps))
            r = r + out
        return self.audio.out_proj(rmsnorm(r, self.backbone.norm_f.weight, cfg.norm_eps))

    def metadata(self):
        cfg = self.cfg
        m = {"arch": cfg.arch, "norm_eps": repr(cfg.norm_eps)}
        if cfg.arch == "mamba2":
            m.update(headdim=str(cfg.headdim), ngroups=str(cfg.ngroups), gate_norm_eps=repr(cfg.gate_norm_eps))
        return m


def noise_filters(n=B_NOISE, taps=NOISE_TAPS, rate=RATE):
    """(n, taps) band-pass FIRs (Hann-windowed sinc differences) on mel-spaced edges."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    imel = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = imel(np.linspace(mel(40.0), mel(rate / 2 * 0.98), n + 1))
    t = np.arange(taps) - (taps - 1) / 2
    w = np.hanning(taps)

    def lp(fc):
        return 2 * fc / rate * np.sinc(2 * fc / rate * t)
    return np.stack([(lp(edges[k + 1]) - lp(edges[k])) * w for k in range(n)]).astype(np.float32)


def upsample(p, hop=HOP):
    """(B, T, C) frame values -> (B, T*hop, C) per sample, linear from frame t to t+1
    (the last frame held)."""
    B, T, C = p.shape
    nxt = torch.cat([p[:, 1:], p[:, -1:]], dim=1)
    frac = (torch.arange(hop, device=p.device, dtype=p.dtype) / hop).view(1, 1, hop, 1)
    return (p.unsqueeze(2) + frac * (nxt - p).unsqueeze(2)).reshape(B, T * hop, C)


def hz_to_mel(f):
    return 2595.0 * torch.log10(1.0 + f / 700.0)


MEL_TOP = 2595.0 * math.log10(1.0 + (RATE / 2) / 700.0)


def harmonic_amplitudes(log_env, f0):
    """Amplitude of each harmonic from the envelope: log_env (B, T, M) log amplitudes at
    M points uniform on the mel scale over [0, RATE/2], f0 (B, T, 1) Hz -> (B, T, K);
    linear interpolation in mel, harmonics at or above 0.95 * RATE/2 are zero (no aliasing)."""
    k = torch.arange(1, K_HARM + 1, device=f0.device, dtype=f0.dtype)
    fk = f0 * k                                                         # (B, T, K)
    pos = (hz_to_mel(fk.clamp(max=RATE / 2)) / MEL_TOP * (N_ENV - 1)).clamp(0, N_ENV - 1)
    j = pos.floor().clamp(max=N_ENV - 2)
    frac = pos - j
    j = j.long()
    lo = torch.gather(log_env, -1, j)
    hi = torch.gather(log_env, -1, j + 1)
    amp = torch.exp((lo + frac * (hi - lo)).clamp(max=3.0))
    return amp * (fk < RATE / 2 * 0.95)


def split_params(params):
    """(B, T, 2 + M + Bn) -> f0 (Hz), voicing in (0, 1), log envelope, noise gains."""
    f0 = torch.exp(params[..., 0:1]).clamp(F0_MIN * 0.5, F0_MAX * 1.5)
    voiced = torch.sigmoid(params[..., 1:2])
    log_env = params[..., 2:2 + N_ENV]
    gains = torch.exp(params[..., 2 + N_ENV:].clamp(max=3.0))
    return f0, voiced, log_env, gains


def synthesise(params, noise, filters):
    """Harmonic-plus-noise from decoder parameters.
    params (B, T, 2 + M + Bn): [log f0, voicing logit, log envelope (M), log noise gains (Bn)];
    noise (B, S) white, unit variance; filters (Bn, taps). -> (B, S).
    Per sample s in frame t (s = t*HOP + i): every frame value v is v_t + (i/HOP)(v_{t+1} - v_t);
    phase_s = 2 pi sum_{s' <= s} f0_{s'} / RATE;
    y_s = sum_k a_{k,s} sin(k phase_s) + sum_b g_{b,s} (h_b * noise)_s, h_b causal FIRs."""
    f0, voiced, log_env, gains = split_params(params)
    amps = harmonic_amplitudes(log_env, f0) * voiced                    # (B, T, K)
    f0_s = upsample(f0)                                                 # (B, S, 1)
    a_s = upsample(amps)                                                # (B, S, K)
    k = torch.arange(1, K_HARM + 1, device=params.device, dtype=params.dtype)
    phase = torch.cumsum(f0_s / RATE, dim=1)                            # (B, S, 1), cycles
    phase = 2 * math.pi * (phase - torch.floor(phase))
    y = (a_s * torch.sin(phase * k)).sum(-1)
    bands = F.conv1d(F.pad(noise.unsqueeze(1), (NOISE_TAPS - 1, 0)), filters.unsqueeze(1))  # (B, Bn, S) causal
    y = y + (upsample(gains) * bands.transpose(1, 2)).sum(-1)
    return y


# ------------------------------------------------ the shipped synthesiser (v2): from log-mel frames
MAX_HARM = 96        # harmonics at most (f0 = 60 Hz reaches 5.76 kHz)
VOICED_MAX_HZ = 5000.0  # harmonics below, noise above (a fixed maximum voiced frequency)


def _hann_energy():
    w = np.hanning(WIN + 1)[:-1]                                        # torch.hann_window (periodic)
    return float(np.sum(w ** 2))


SUM_W2 = _hann_energy()                  # sum of the squared analysis window (240 for WIN = 640)
SINE_ENERGY = N_FFT / 2 * SUM_W2 / 2     # sum over positive bins of |X|^2 for a unit sine
NOISE_ENERGY = SUM_W2                    # E|X_k|^2 per bin for unit-variance white noise
BIN_HZ = RATE / N_FFT


def mel_geometry():
    """What the synthesiser needs of the analysis: band centres (Hz) and areas (bins) of the mel
    filters, the linear-interpolation matrix from log-band values at the centres to the N_FFT/2+1
    bins (end values held), and the noise-band edges (Hz). Plain numpy, float64."""
    fb = mel_filterbank()
    freqs = np.arange(fb.shape[1]) * BIN_HZ
    area = fb.sum(1)
    centre = (fb * freqs).sum(1) / area
    interp = np.stack([np.interp(freqs, centre, np.eye(N_MELS)[m]) for m in range(N_MELS)], 1)  # (F, M)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    imel = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = imel(np.linspace(mel(40.0), mel(RATE / 2 * 0.98), B_NOISE + 1))
    return centre, area, interp, edges


def _cum_at(C, f):
    """Energy of the bins below frequency f: C (..., F+1) prefix sums of per-bin energy (bin j spans
    [(j - 1/2), (j + 1/2)) * BIN_HZ), linear inside a bin; f (..., K) Hz -> (..., K)."""
    p = (f / BIN_HZ + 0.5).clamp(0, C.shape[-1] - 1)
    j = p.floor().clamp(max=C.shape[-1] - 2)
    frac = p - j
    j = j.long()
    lo = torch.gather(C, -1, j)
    return lo + frac * (torch.gather(C, -1, j + 1) - lo)


def hns_frames(log_mel_frames, f0, voiced, geometry=None):
    """Per-frame harmonic amplitudes and noise-band gains that reproduce a log-mel spectrum.
    log_mel_frames (B, T, 80) (voice.log_mel's scale), f0 (B, T, 1) Hz, voiced (B, T, 1) in [0, 1]
    -> amps (B, T, MAX_HARM), gains (B, T, B_NOISE).

    The mel band m holds E_m = exp(mel_m) = sum_f fb[m, f] S(f); a flat S over the band gives
    S = E_m / area_m at the band centre; log S is interpolated linearly between centres to every
    bin. A harmonic k takes the energy of S within f0/2 of k*f0: a_k^2 = sum S / SINE_ENERGY
    (Parseval for the Hann-windowed STFT); a noise band b of unit-gain FIR on unit white noise
    gives NOISE_ENERGY * g_b^2 per bin: g_b^2 = mean S over the band / NOISE_ENERGY. Voiced
    frames put energy below VOICED_MAX_HZ into harmonics, the rest into noise."""
    centre, area, interp, edges = geometry or mel_geometry()
    dt = log_mel_frames.dtype
    dev = log_mel_frames.device
    log_s = log_mel_frames - torch.log(torch.as_tensor(area, dtype=dt, device=dev))      # (B, T, M)
    S = torch.exp(log_s @ torch.as_tensor(interp, dtype=dt, device=dev).T)             # (B, T, F)
    C = F.pad(torch.cumsum(S, -1), (1, 0))                                             # (B, T, F+1)
    k = torch.arange(1, MAX_HARM + 1, device=dev, dtype=dt)
    fk = f0 * k                                                                         # (B, T, K)
    e = (_cum_at(C, fk + f0 / 2) - _cum_at(C, fk - f0 / 2)).clamp(min=0)
    keep = (fk < VOICED_MAX_HZ) & (fk < RATE / 2 * 0.95)
    amps = torch.sqrt(e / SINE_ENERGY) * keep * voiced
    ed = torch.as_tensor(edges, dtype=dt, device=dev)
    shape = C.shape[:-1] + (len(edges),)
    ce = _cum_at(C, ed.expand(shape).contiguous())
    mean_s = (ce[..., 1:] - ce[..., :-1]) / ((ed[1:] - ed[:-1]) / BIN_HZ)             # (B, T, Bn)
    mid = (ed[1:] + ed[:-1]) / 2
    noise_share = 1 - voiced * (mid < VOICED_MAX_HZ)
    gains = torch.sqrt(mean_s.clamp(min=0) * noise_share / NOISE_ENERGY)
    return amps, gains


def synthesise_mel(log_mel_frames, f0, voiced, noise, filters, geometry=None):
    """Harmonic-plus-noise waveform from log-mel frames, f0 and voicing (the C++ synthesiser's
    definition). -> (B, T*HOP). Per sample s = t*HOP + i in frame t every frame value v is
    v_t + (i/HOP)(v_{t+1} - v_t) (the last frame held): one frame (10 ms) of look-ahead;
    phase_s = 2 pi sum_{s' <= s} f0_{s'} / RATE;
    y_s = sum_k a_{k,s} sin(k phase_s) + sum_b g_{b,s} (h_b * noise)_s, h_b causal FIRs."""
    amps, gains = hns_frames(log_mel_frames, f0, voiced, geometry)
    f0_s = upsample(f0)
    a_s = upsample(amps)
    k = torch.arange(1, MAX_HARM + 1, device=f0.device, dtype=f0.dtype)
    phase = torch.cumsum(f0_s / RATE, dim=1)
    phase = 2 * math.pi * (phase - torch.floor(phase))
    y = (a_s * torch.sin(phase * k)).sum(-1)
    bands = F.conv1d(F.pad(noise.unsqueeze(1), (NOISE_TAPS - 1, 0)), filters.unsqueeze(1))
    return y + (upsample(gains) * bands.transpose(1, 2)).sum(-1)


def white_noise(shape, device, gen):
    """Uniform white noise of unit variance (what the C++ synthesiser uses, from its own generator)."""
    return (torch.rand(shape, device=device, generator=gen) * 2 - 1) * math.sqrt(3.0)


class Voice(nn.Module):
    def __init__(self, n_symbols, emb=64, enc=SsmConfig(arch="mamba2", n_layers=3, d_model=128, d_inner=256,
                                                             d_state=16, headdim=32, dt_min=1e-3, dt_max=0.1),
                 dec=SsmConfig(arch="mamba2", n_layers=4, d_model=192, d_inner=384, d_state=16, headdim=32,
                               dt_min=1e-3, dt_max=0.1), seed=0, n_speakers=1):
        super().__init__()
        torch.manual_seed(seed)
        self.n_symbols, self.emb_dim, self.n_speakers = n_symbols, emb, n_speakers
        H = enc.d_model
        self.embedding = nn.Embedding(n_symbols, emb)
        self.enc_fwd = SeqSsm(enc, emb, H, seed=seed + 1)
        self.enc_bwd = SeqSsm(enc, emb, H, seed=seed + 2)
        self.prior = nn.Linear(H, N_MELS)
        self.duration = nn.Linear(H, 1)
        # decoder outputs: [log f0, voicing logit, log-mel residual over the prior (80)]
        self.n_params = 2 + N_MELS
        self.decoder = SeqSsm(dec, H + N_MELS + 2, self.n_params, seed=seed + 3)
        with torch.no_grad():
            self.decoder.audio.out_proj.bias[0] = math.log(180.0)
            self.decoder.audio.out_proj.weight[2:].mul_(0.1)
            self.decoder.audio.out_proj.bias[2:] = 0.0
        if n_speakers > 1:
            # Several speakers in training (e.g. Festival SLT + the real voice): a learnt vector per
            # speaker added to the phoneme embeddings and after the decoder's in_proj. Both are
            # folded into the one speaker's embedding table and bias by single_speaker(), so the
            # shipped voice is an ordinary one-speaker file.
            self.speaker_emb = nn.Embedding(n_speakers, emb)
            self.speaker_dec = nn.Embedding(n_speakers, dec.d_model)
            nn.init.zeros_(self.speaker_emb.weight)
            nn.init.zeros_(self.speaker_dec.weight)
        self.register_buffer("filters", torch.from_numpy(noise_filters()))
        for m in self.modules():  # train with the chunked matrix form of the scan (same outputs)
            if hasattr(m, "use_ssd"):
                m.use_ssd = True

    def encode(self, ids, mask, spk=None):
        """ids (B, N) -> h (B, N, H): forward + backward SSM (the backward one runs on each
        sequence reversed within its own length). spk (B,): speaker indices (several speakers)."""
        e = self.embedding(ids)
        if spk is not None and self.n_speakers > 1:
            e = e + self.speaker_emb(spk).unsqueeze(1)
        e = e * mask.unsqueeze(-1)
        lengths = mask.sum(1).long()
        rev = _reverse_padded(e, lengths)
        h = self.enc_fwd(e) + _reverse_padded(self.enc_bwd(rev), lengths)
        return h * mask.unsqueeze(-1)

    def decode(self, x, spk=None):
        """Decoder input (B, T, H + 82) -> its output (B, T, 82)."""
        bias = self.speaker_dec(spk) if spk is not None and self.n_speakers > 1 else None
        return self.decoder(x, bias)

    def single_speaker(self, s):
        """A one-speaker copy speaking as speaker s: its vectors folded into the embedding table
        and the decoder's in_proj bias (exactly the same outputs)."""
        import copy
        one = copy.deepcopy(self)
        if self.n_speakers > 1:
            del one.speaker_emb, one.speaker_dec
        one.n_speakers = 1
        with torch.no_grad():
            if self.n_speakers > 1:
                one.embedding.weight += self.speaker_emb.weight[s]
                one.decoder.audio.in_proj.bias += self.speaker_dec.weight[s]
        return one

    def frames(self, params, mu_t):
        """Decoder output (B, T, 82) + the prior expanded to frames (B, T, 80) -> log-mel (B, T, 80),
        f0 (B, T, 1) Hz, voicing (B, T, 1)."""
        f0 = torch.exp(params[..., 0:1]).clamp(F0_MIN * 0.5, F0_MAX * 1.5)
        return mu_t + params[..., 2:], f0, torch.sigmoid(params[..., 1:2])

    def decoder_input(self, h, mu, dur_frames):
        """Expands per-phoneme features to frames: (B, T, H + 80 + 2) with progress
        features [fraction of the phoneme elapsed, 1 / its length]."""
        idx, prog, inv = _expand_index(dur_frames)
        hh = torch.gather(h, 1, idx.unsqueeze(-1).expand(-1, -1, h.shape[-1]))
        mm = torch.gather(mu, 1, idx.unsqueeze(-1).expand(-1, -1, mu.shape[-1]))
        return torch.cat([hh, mm, prog.unsqueeze(-1), inv.unsqueeze(-1)], dim=-1)


def _reverse_padded(x, lengths):
    B, N = x.shape[:2]
    ar = torch.arange(N, device=x.device).unsqueeze(0)
    idx = (lengths.unsqueeze(1) - 1 - ar).clamp(min=0)
    idx = torch.where(ar < lengths.unsqueeze(1), idx, ar)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand_as(x))


def _expand_index(dur):
    """dur (B, N) integer frames -> for each frame: phoneme index, progress in [0,1), 1/len.
    Frames past the total are mapped to the last phoneme (masked by the caller)."""
    B, N = dur.shape
    ends = torch.cumsum(dur, dim=1)                                     # (B, N)
    T = int(ends[:, -1].max().item())
    t = torch.arange(T, device=dur.device).view(1, T, 1)
    idx = (t >= ends.unsqueeze(1)).sum(-1).clamp(max=N - 1)             # (B, T)
    start = torch.gather(ends - dur, 1, idx)
    length = torch.gather(dur, 1, idx).clamp(min=1)
    prog = (t.squeeze(-1) - start).float() / length.float()
    return idx, prog.clamp(0, 1), 1.0 / length.float()


def _mas_one(lp, n, t_len, dur):
    """Viterbi over one utterance: lp (N, T) log-likelihoods, n phonemes, t_len frames -> dur (N,)
    frames (added in place). Q[i, t] = lp[i, t] + max(Q[i, t-1], Q[i-1, t-1]); ref: Glow-TTS MAS
    (Kim et al. 2020, monotonic_align/core.pyx)."""
    neg = -1e9
    Q = np.full((n, t_len), neg, dtype=np.float64)
    Q[0, 0] = lp[0, 0]
    for t in range(1, t_len):
        for i in range(min(n, t + 1)):
            stay = Q[i, t - 1]
            move = Q[i - 1, t - 1] if i > 0 else neg
            Q[i, t] = (stay if stay > move else move) + lp[i, t]
    i = n - 1
    for t in range(t_len - 1, -1, -1):
        dur[i] += 1
        if i > 0 and t > 0 and (i == t or Q[i - 1, t - 1] > Q[i, t - 1]):
            i -= 1


try:  # numba compiles the loop (the GPU machines have it); plain Python otherwise (slow, tests only)
    import numba
    _mas_one = numba.njit(cache=False)(_mas_one)
except ImportError:  # pragma: no cover
    pass


@torch.no_grad()
def monotonic_alignment(logp, n_len, t_len):
    """Maximum-likelihood monotonic alignment (each frame to one phoneme, phonemes in order,
    each at least one frame): logp (B, N, T) -> durations (B, N) frames. ref: Glow-TTS MAS."""
    B, N, T = logp.shape
    lp = logp.float().cpu().numpy()
    dur = np.zeros((B, N), dtype=np.int64)
    for b in range(B):
        _mas_one(lp[b], int(n_len[b]), int(t_len[b]), dur[b])
    return torch.from_numpy(dur).to(logp.device)


def mrstft_loss(y, x, sizes=(2048, 1024, 512, 256, 128)):
    loss = 0.0
    for n in sizes:
        w = torch.hann_window(n, device=x.device)
        X = torch.stft(x, n, n // 4, n, w, return_complex=True).abs() + 1e-7
        Y = torch.stft(y, n, n // 4, n, w, return_complex=True).abs() + 1e-7
        loss = loss + (X - Y).norm() / X.norm() + (X.log() - Y.log()).abs().mean()
    return loss / len(sizes)


def export(model, vocab, path, info, settings):
    """One safetensors file: the three SSMs under enc_fwd./enc_bwd./decoder. prefixes (each a
    Sidewinder audio model), embedding, prior, duration; metadata describes it."""
    from sidewinder_train.safetensors_io import save
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items() if k != "filters"}
    # the synthesiser's constants, so that the file defines it completely (hns_frames, synthesise_mel)
    centre, area, _, edges = mel_geometry()
    tensors["synth.noise_filters"] = model.filters.detach().float().cpu()  # (Bn, taps)
    tensors["synth.mel_centres_hz"] = torch.from_numpy(centre).float()  # (80,)
    tensors["synth.mel_areas"] = torch.from_numpy(area).float()         # (80,) bins
    tensors["synth.noise_edges_hz"] = torch.from_numpy(edges).float()   # (Bn + 1,)
    meta = {
        "format": "sidewinder-voice", "format_version": "1",
        "sample_rate": str(RATE), "hop": str(HOP), "harmonics": str(MAX_HARM), "noise_bands": str(B_NOISE),
        "noise_taps": str(NOISE_TAPS), "voiced_max_hz": repr(VOICED_MAX_HZ), "n_fft": str(N_FFT),
        "win": str(WIN), "sine_energy": repr(SINE_ENERGY), "noise_energy": repr(NOISE_ENERGY),
        "f0_min": repr(F0_MIN), "f0_max": repr(F0_MAX), "synthesiser": "hns-mel-1",
        "n_mels": str(N_MELS),
        "phoneme_map": json.dumps(vocab, ensure_ascii=False),
        "enc_fwd": json.dumps(model.enc_fwd.metadata()), "enc_bwd": json.dumps(model.enc_bwd.metadata()),
        "decoder": json.dumps(model.decoder.metadata()),
        "training": json.dumps(settings),
        "config": json.dumps({"emb": model.emb_dim, "enc": model.enc_fwd.cfg.as_dict(),
                              "dec": model.decoder.cfg.as_dict()}),
    }
    meta.update({k: str(v) for k, v in info.items()})
    save(path, tensors, meta)


def load_voice(path):
    """A voice file (export()) back into PyTorch: -> (Voice, vocab)."""
    from sidewinder_train.models import SsmConfig as Cfg
    from sidewinder_train.safetensors_io import load
    tensors, meta = load(path)
    if meta.get("format") != "sidewinder-voice":
        raise ValueError(f"{path}: not a sidewinder-voice file")
    cfg = json.loads(meta["config"])
    vocab = json.loads(meta["phoneme_map"])
    model = Voice(len(vocab), emb=cfg["emb"], enc=Cfg(**cfg["enc"]), dec=Cfg(**cfg["dec"]))
    state = {k: torch.from_numpy(np.array(v)) for k, v in tensors.items() if not k.startswith("synth.")}
    state["filters"] = model.filters
    model.load_state_dict(state)
    return model, vocab
