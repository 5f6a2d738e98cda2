#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The vocoder question of the voice (issue 5): which turns frames into samples
better for the same data and training time, a causal sample-rate SSM vocoder
or the harmonic-plus-noise synthesiser driven by a frame-rate SSM?

Both are tested the same way, by copy synthesis: the input is the recording's
own log-mel frames (80 bands, 100 frames/s, voice.log_mel), the output a
waveform, the loss the voice's multi-resolution STFT loss. Both are causal,
so both could stream.

  hns   frame-rate causal Mamba-2 (voice.SeqSsm, 3 layers, d_model 128):
        log-mel frame -> [log f0, voicing, envelope, noise gains] ->
        voice.synthesise (harmonics of f0 + filtered noise; 10 ms look-ahead);
        plus the voice's f0 L1 / voicing BCE against YIN.
  ssm   sample-rate causal Mamba-2 (voice.SeqSsm at 16 kHz, 4 layers, d_model
        32, d_inner 64, d_state 16, headdim 16: the size of `fx-m2`, about
        what one core can afford per sample next to the rest of the voice):
        [log-mel linearly interpolated to samples (80), white noise (1)] -> sample.

Each trains for --minutes on random 1 s segments of the training prompts
(batch 16, AdamW, cosine schedule), then synthesises the 50 held-out prompts
whole; reported: MR-STFT loss, log-mel distance (mean |difference| in dB) and
the wavs (for the recogniser: evaluate_wer.py), and the model as an engine
file (its cost is measured by the C++ engine, `sidewinder bench --model`).

usage: vocoder_compare.py corpus.npz --which hns|ssm -o OUT_DIR [--minutes 7]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import train_voice as TV  # noqa: E402
import voice as V  # noqa: E402
from sidewinder_train.audio_io import write_wav  # noqa: E402
from sidewinder_train.models import SsmConfig  # noqa: E402
from sidewinder_train.safetensors_io import save  # noqa: E402

SEG_FRAMES = 100  # 1 s segments
HNS_CFG = SsmConfig(arch="mamba2", n_layers=3, d_model=128, d_inner=256, d_state=16, headdim=32, dt_min=1e-3,
                    dt_max=0.1)
SSM_CFG = SsmConfig(arch="mamba2", n_layers=4, d_model=32, d_inner=64, d_state=16, headdim=16, dt_min=1e-4,
                    dt_max=0.1)


def make(which):
    if which == "hns":
        m = V.SeqSsm(HNS_CFG, V.N_MELS, 2 + V.N_ENV + V.B_NOISE, seed=11)
        with torch.no_grad():
            m.audio.out_proj.bias[0] = math.log(180.0)
            m.audio.out_proj.bias[2:] = -5.0
        m.register_buffer("filters", torch.from_numpy(V.noise_filters()))
        return m
    m = V.SeqSsm(SSM_CFG, V.N_MELS + 1, 1, seed=12)
    with torch.no_grad():
        m.audio.out_proj.weight.mul_(0.05)
    return m


def run(m, which, mel, f0, gen):
    """mel (B, T, 80) [, f0 (B, T)] -> waveform (B, T*HOP), extra loss."""
    B, T, _ = mel.shape
    if which == "hns":
        params = m(mel)
        voiced_t = (f0 > 0).float()
        logf0_t = torch.log(f0.clamp(min=V.F0_MIN))
        f0_loss = ((params[..., 0] - logf0_t).abs() * voiced_t).sum() / voiced_t.sum().clamp(min=1)
        vuv = F.binary_cross_entropy_with_logits(params[..., 1], voiced_t)
        y = V.synthesise(params, V.white_noise((B, T * V.HOP), mel.device, gen), m.filters)
        return y, f0_loss + 0.5 * vuv
    cond = V.upsample(mel)                                              # (B, S, 80)
    noise = V.white_noise((B, T * V.HOP, 1), mel.device, gen)
    return m(torch.cat([cond, noise], dim=-1))[..., 0], 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--which", choices=["hns", "ssm"], required=True)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--minutes", type=float, default=7.0)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--eval", type=int, default=50, help="held-out prompts to synthesise")
    a = ap.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    utts, _ = TV.load_packed(a.corpus)
    utts = [u for u in utts if len(u["x"]) <= TV.MAX_SECONDS * V.RATE]
    fb = TV.features(utts)
    train_u = [u for u in utts if not u["test"] and len(u["mel"]) > SEG_FRAMES]
    test_u = [u for u in utts if u["test"]][: a.eval]
    dev = torch.device(a.device)
    m = make(a.which).to(dev)
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, betas=(0.8, 0.99), weight_decay=0.0)
    gen = torch.Generator(device=dev).manual_seed(1)
    start, step, log = time.time(), 0, []
    budget = a.minutes * 60
    while time.time() - start < budget and (a.max_steps == 0 or step < a.max_steps):
        frac = (time.time() - start) / budget
        for pg in opt.param_groups:
            pg["lr"] = a.lr * 0.5 * (1 + np.cos(np.pi * min(1.0, frac)))
        mel, f0, x = [], [], []
        for i in rng.integers(0, len(train_u), a.batch):
            u = train_u[i]
            t0 = int(rng.integers(0, len(u["mel"]) - SEG_FRAMES + 1))
            mel.append(u["mel"][t0:t0 + SEG_FRAMES])
            f0.append(u["f0"][t0:t0 + SEG_FRAMES])
            x.append(u["x"][t0 * V.HOP:(t0 + SEG_FRAMES) * V.HOP])
        mel = torch.from_numpy(np.stack(mel)).float().to(dev)
        f0 = torch.from_numpy(np.stack(f0)).float().to(dev)
        x = torch.from_numpy(np.stack(x)).float().to(dev)
        y, extra = run(m, a.which, mel, f0, gen)
        stft = V.mrstft_loss(y, x)
        loss = stft + extra
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            log.append({"step": step, "seconds": round(time.time() - start, 1), "stft": stft.item()})
            print(json.dumps(log[-1]), flush=True)
    # held-out copy synthesis, whole prompts
    m.eval()
    os.makedirs(os.path.join(a.out, a.which), exist_ok=True)
    stfts, mels = [], []
    with torch.no_grad():
        for u in test_u:
            mel = torch.from_numpy(u["mel"]).float().unsqueeze(0).to(dev)
            f0 = torch.from_numpy(u["f0"]).float().unsqueeze(0).to(dev)
            y, _ = run(m, a.which, mel, f0, gen)
            x = torch.from_numpy(u["x"]).float().unsqueeze(0).to(dev)
            stfts.append(V.mrstft_loss(y, x).item())
            ym = V.log_mel(y.cpu().double(), torch.from_numpy(V.mel_filterbank()).double())[0]
            xm = V.log_mel(x.cpu().double(), torch.from_numpy(V.mel_filterbank()).double())[0]
            mels.append(float((ym - xm).abs().mean() * 10 / math.log(10)))  # natural log power -> dB
            wav = np.clip(y[0].cpu().numpy(), -1, 1)
            write_wav(os.path.join(a.out, a.which, u["name"] + ".wav"), wav.astype(np.float32), V.RATE)
    del fb
    cfg = HNS_CFG if a.which == "hns" else SSM_CFG
    meta = {"format": "sidewinder", "format_version": "1",
            "sample_rate": str(100 if a.which == "hns" else V.RATE), "name": f"vocoder-{a.which}"}
    meta.update(m.metadata())
    save(os.path.join(a.out, f"vocoder_{a.which}.safetensors"),
         {k: v.detach().float().cpu() for k, v in m.state_dict().items() if k != "filters"}, meta)
    res = {"which": a.which, "steps": step, "minutes": a.minutes, "batch": a.batch, "segment_s": SEG_FRAMES / 100,
           "config": cfg.as_dict(), "parameters": sum(p.numel() for p in m.parameters()),
           "heldout_stft": float(np.mean(stfts)), "heldout_logmel_db": float(np.mean(mels)),
           "device": str(dev), "torch": torch.__version__, "log": log}
    with open(os.path.join(a.out, f"vocoder_{a.which}.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("done", json.dumps({k: v for k, v in res.items() if k != "log"}), flush=True)


if __name__ == "__main__":
    main()
