#!/usr/bin/python3
"""The PyTorch cross-check fixture of the LSTM baseline (bench/lstm_baseline.h).

Writes, from a seeded torch.nn.LSTM(1, 16) + nn.Linear(16, 1) + input skip:
  tests/data/lstm/lstm16.safetensors  the weights as float32, with the
                                      sidewinder-lstm metadata (the export format
                                      that bench/lstm_loader.cpp reads)
  tests/data/lstm/lstm16.in.f32       2000 input samples (raw float32 LE)
  tests/data/lstm/lstm16.out.f32      the model's output, computed in float64 by
                                      torch.nn.LSTM from the float32 weights as
                                      stored, rounded to float32 once

The LSTM weights are PyTorch's default initialisation scaled by 2, so that
the gates reach saturation; the input is a quiet sweep, noise and a loud
(±3) burst. Run with Debian's /usr/bin/python3 (numpy + torch); the output
is byte-identical on every run. tests/test_lstm_baseline.cpp reads it.
"""
# SPDX-License-Identifier: GPL-3.0-or-later
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mamba_ref import write_safetensors  # noqa: E402

HIDDEN = 16
FRAMES = 2000
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "lstm")


class LstmAmp(torch.nn.Module):
    """The field's amp model: one LSTM layer, a linear head, an input skip."""

    def __init__(self, hidden):
        super().__init__()
        self.lstm = torch.nn.LSTM(1, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 1)
        self.skip = torch.nn.Linear(1, 1, bias=False)

    def forward(self, x):  # x: [B, T, 1]
        h, _ = self.lstm(x)
        return self.head(h) + self.skip(x)


def make_input(rng):
    t = np.arange(FRAMES)
    sweep = 0.3 * np.sin(2 * np.pi * (0.002 + 0.02 * t / FRAMES) * t)
    noise = 0.2 * rng.standard_normal(FRAMES)
    x = sweep + noise
    x[800:1200] += 3.0 * np.sign(np.sin(2 * np.pi * 0.01 * t[800:1200]))  # loud square burst
    x[1500:1600] = 0.0  # silence: the state decays
    return x.astype(np.float32)


def main():
    torch.manual_seed(2026)
    rng = np.random.default_rng(2026)
    model = LstmAmp(HIDDEN)
    with torch.no_grad():
        for p in model.lstm.parameters():
            p.mul_(2.0)
        model.skip.weight.fill_(1.0)
    # The float32 weights as stored, then everything in float64.
    tensors = {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items()}
    model = model.double()
    x = make_input(rng)
    with torch.no_grad():
        y = model(torch.from_numpy(x.astype(np.float64)).view(1, FRAMES, 1)).view(FRAMES).numpy()
    os.makedirs(OUT_DIR, exist_ok=True)
    order = ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "head.weight",
             "head.bias", "skip.weight"]
    assert sorted(order) == sorted(tensors)
    write_safetensors(os.path.join(OUT_DIR, "lstm16.safetensors"), {k: tensors[k] for k in order},
                      {"format": "sidewinder-lstm", "format_version": "1", "sample_rate": "48000"})
    x.astype("<f4").tofile(os.path.join(OUT_DIR, "lstm16.in.f32"))
    y.astype("<f4").tofile(os.path.join(OUT_DIR, "lstm16.out.f32"))
    print(f"lstm16: {FRAMES} samples, output range [{y.min():.3f}, {y.max():.3f}]")


if __name__ == "__main__":
    main()
