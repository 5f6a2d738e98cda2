# SPDX-License-Identifier: GPL-3.0-or-later
"""Losses. ref: Wright & Välimäki 2019/2020 ("Real-time guitar amplifier
emulation with deep learning"; "Perceptual loss function for neural modelling
of audio systems"): ESR with a first-order pre-emphasis high-pass; Yamamoto et
al. 2020 (Parallel WaveGAN) multi-resolution STFT loss (spectral convergence +
log-magnitude L1)."""
import torch
import torch.nn.functional as F

PRE_EMPHASIS = 0.85          # H(z) = 1 - 0.85 z^-1
STFT_SIZES = (256, 1024, 4096)


def pre_emphasis(x, coeff=PRE_EMPHASIS):
    return x[:, 1:] - coeff * x[:, :-1]


def esr(target, pred):
    """Error-to-signal ratio over the whole batch: sum (y - ŷ)² / sum y²."""
    return (target - pred).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


def mrstft(target, pred, sizes=STFT_SIZES):
    """Resolutions longer than the signal are left out (short windows in tests and tiny runs)."""
    sizes = [n for n in sizes if n <= target.shape[-1]]
    if not sizes:
        return target.new_zeros(())
    total = 0.0
    for n in sizes:
        win = torch.hann_window(n, device=target.device, dtype=target.dtype)
        S = torch.stft(target, n, hop_length=n // 4, window=win, return_complex=True).abs()
        P = torch.stft(pred, n, hop_length=n // 4, window=win, return_complex=True).abs()
        sc = torch.linalg.norm(S - P) / torch.linalg.norm(S).clamp_min(1e-8)
        mag = F.l1_loss(torch.log(P + 1e-5), torch.log(S + 1e-5))
        total = total + sc + mag
    return total / len(sizes)


def training_loss(target, pred, stft_weight):
    loss_esr = esr(pre_emphasis(target), pre_emphasis(pred))
    if stft_weight > 0:
        return loss_esr + stft_weight * mrstft(target, pred), loss_esr
    return loss_esr, loss_esr
