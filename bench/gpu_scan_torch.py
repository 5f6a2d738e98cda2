#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The same scans as gpu/src/ in PyTorch, on the same card, for issue 7's
comparison (run on the GPU machine; `sidewinder_gpu_scan_check --bench` times
ours on the same shapes).

Both are the fast, parallel ways to write these scans in PyTorch, not Python
loops over time:
  mamba2: the chunked SSD form (Dao & Gu 2024, "Transformers are SSMs",
          section 6's minimal chunked algorithm, written here from the
          paper): chunks of 64, the intra-chunk part as masked decays and
          einsums, the chunk states, and the inter-chunk recurrence as a
          log-depth (Hillis-Steele) scan over the chunks.
  mamba1: a log-depth scan over time of the (decay, input) pairs,
          (a1·a0, a1·b0 + b1), on [T, E, N] tensors.
Each is first checked against the sequential recurrence (float64) on a short
problem. Timed with CUDA events, median of 5 after a warm-up; fp32.
Shapes as in scan_check: mamba2 one sequence, H 2 x P 8, N 8 (the standard
preset ts-overdrive); mamba1 E 32, N 16.
"""
import argparse
import json
import math

import torch


def mamba2_chunked(x, dt, A, B, C, D, h0, L=64):
    """x [T, H, P], dt [T, H], A [H], B, C [T, N], D [H], h0 [H, P, N] -> y [T, H, P], h [H, P, N]."""
    T, H, P = x.shape
    N = B.shape[-1]
    pad = (-T) % L
    if pad:  # dt = 0: decay 1 and no input, so padding changes nothing before T
        x, dt = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, pad)), torch.nn.functional.pad(dt, (0, 0, 0, pad))
        B, C = torch.nn.functional.pad(B, (0, 0, 0, pad)), torch.nn.functional.pad(C, (0, 0, 0, pad))
    c = x.shape[0] // L
    X = (x * dt[..., None]).reshape(c, L, H, P)
    acum = (dt * A).reshape(c, L, H).cumsum(1)  # log of Π decay from the chunk's start
    Bc, Cc = B.reshape(c, L, N), C.reshape(c, L, N)
    mask = torch.tril(torch.ones(L, L, dtype=torch.bool, device=x.device))
    seg = (acum[:, :, None, :] - acum[:, None, :, :]).masked_fill(~mask[None, :, :, None], -math.inf)
    y = torch.einsum("cln,csn,clsh,cshp->clhp", Cc, Bc, seg.exp(), X)
    S = torch.einsum("csh,cshp,csn->chpn", (acum[:, -1:, :] - acum).exp(), X, Bc)  # chunk states from 0
    a = acum[:, -1, :].exp()  # [c, H]
    S[0] += a[0][:, None, None] * h0
    k = 1
    while k < c:  # inclusive scan over chunks: S_k <- a_k S_{k-1} + S_k
        S[k:] = S[k:] + a[k:, :, None, None] * S[:-k]
        a[k:] = a[k:] * a[:-k]
        k *= 2
    h_in = torch.cat([h0[None], S[:-1]])
    y = y + torch.einsum("cln,clh,chpn->clhp", Cc, acum.exp(), h_in)
    y = y.reshape(c * L, H, P)[:T] + D[None, :, None] * x[:T]
    return y, S[-1]


def mamba1_doubling(u, dt, A, B, C, D, h0):
    """u, dt [T, E], A [E, N], B, C [T, N], D [E], h0 [E, N] -> y [T, E], h [E, N]."""
    a = (dt[:, :, None] * A[None]).exp()
    b = (dt * u)[:, :, None] * B[:, None, :]
    b[0] += a[0] * h0
    T, k = u.shape[0], 1
    while k < T:
        b[k:] = b[k:] + a[k:] * b[:-k]
        a[k:] = a[k:] * a[:-k]
        k *= 2
    return torch.einsum("ten,tn->te", b, C) + D * u, b[-1]


def sequential_m2(x, dt, A, B, C, D, h0):
    h, ys = h0.clone(), []
    for t in range(x.shape[0]):
        h = (dt[t] * A).exp()[:, None, None] * h + (dt[t][:, None] * x[t])[:, :, None] * B[t][None, None, :]
        ys.append(torch.einsum("hpn,n->hp", h, C[t]) + D[:, None] * x[t])
    return torch.stack(ys), h


def sequential_m1(u, dt, A, B, C, D, h0):
    h, ys = h0.clone(), []
    for t in range(u.shape[0]):
        h = (dt[t][:, None] * A).exp() * h + (dt[t] * u[t])[:, None] * B[t][None, :]
        ys.append(h @ C[t] + D * u[t])
    return torch.stack(ys), h


def m2_inputs(T, H, P, N, dev, dtype, g):
    return (torch.rand(T, H, P, generator=g, device=dev, dtype=dtype) * 2 - 1,
            torch.rand(T, H, generator=g, device=dev, dtype=dtype) * 0.099 + 0.001,
            -(torch.rand(H, generator=g, device=dev, dtype=dtype) * 1.95 + 0.05),
            torch.rand(T, N, generator=g, device=dev, dtype=dtype) * 2 - 1,
            torch.rand(T, N, generator=g, device=dev, dtype=dtype) * 2 - 1,
            torch.rand(H, generator=g, device=dev, dtype=dtype) * 2 - 1,
            torch.rand(H, P, N, generator=g, device=dev, dtype=dtype) * 2 - 1)


def m1_inputs(T, E, N, dev, dtype, g):
    return (torch.rand(T, E, generator=g, device=dev, dtype=dtype) * 2 - 1,
            torch.rand(T, E, generator=g, device=dev, dtype=dtype) * 0.099 + 0.001,
            -(torch.rand(E, N, generator=g, device=dev, dtype=dtype) * 1.95 + 0.05),
            torch.rand(T, N, generator=g, device=dev, dtype=dtype) * 2 - 1,
            torch.rand(T, N, generator=g, device=dev, dtype=dtype) * 2 - 1,
            torch.rand(E, generator=g, device=dev, dtype=dtype) * 2 - 1,
            torch.rand(E, N, generator=g, device=dev, dtype=dtype) * 2 - 1)


def rel(a, b):
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def median_ms(f):
    f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(5):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        f()
        e.record()
        torch.cuda.synchronize()
        ts.append(s.elapsed_time(e))
    return sorted(ts)[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--max-T", type=int, default=10_000_000)
    args = ap.parse_args()
    dev = "cuda"
    g = torch.Generator(device=dev).manual_seed(7)
    # Correctness first (fp32 implementations against the float64 recurrence).
    ins = m2_inputs(1000, 2, 8, 8, dev, torch.float32, g)
    y, h = mamba2_chunked(*ins)
    yr, hr = sequential_m2(*[t.double() for t in ins])
    e2 = max(rel(y, yr), rel(h, hr))
    ins = m1_inputs(1000, 32, 16, dev, torch.float32, g)
    y, h = mamba1_doubling(*ins)
    yr, hr = sequential_m1(*[t.double() for t in ins])
    e1 = max(rel(y, yr), rel(h, hr))
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}: parity mamba2 {e2:.2e}, mamba1 {e1:.2e}")
    assert e2 < 1e-4 and e1 < 1e-4, "the PyTorch scans disagree with the recurrence"
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "parity": {"mamba2": e2, "mamba1": e1},
           "scans": []}
    def timed(name, T, channels, make, scan):
        try:
            ins = make()
            ms = median_ms(lambda: scan(*ins))
            out["scans"].append({"scan": name, "T": T, "channels": channels, "ms": ms})
            print(f"{name.split()[0]} T={T}: {ms:.3f} ms")
            del ins
        except torch.cuda.OutOfMemoryError:
            print(f"{name.split()[0]} T={T}: out of memory")
        torch.cuda.empty_cache()

    for T in (100_000, 1_000_000, 10_000_000):
        if T > args.max_T:
            break
        timed("mamba2 H2 P8 N8", T, 16, lambda: m2_inputs(T, 2, 8, 8, dev, torch.float32, g), mamba2_chunked)
        if T <= 1_000_000:  # [T, E, N] tensors: 10^7 would need ~80 GB
            timed("mamba1 N16", T, 32, lambda: m1_inputs(T, 32, 16, dev, torch.float32, g), mamba1_doubling)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
