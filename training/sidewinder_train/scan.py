# SPDX-License-Identifier: GPL-3.0-or-later
"""The linear recurrence h_t = a_t * h_{t-1} + b_t along time, two ways.

`scan_reference` is the obvious loop. `scan` is a chunked parallel form for
training: inside chunks of Q steps a Hillis-Steele scan over (decay, input)
pairs (log2 Q elementwise passes), then the same scan over the chunk ends
(recursively), then each chunk's carry is applied. It is exact up to fp
rounding (decays are products of numbers in (0, 1], nothing can overflow).
ref: Blelloch 1990 "Prefix sums and their applications" (first-order
recurrences as a scan over (a, b) pairs); the chunked carry structure is the
one of the official Mamba selective-scan kernel (mamba_ssm/csrc/selective_scan).

Shapes: a, b (Bt, T, ...) with a broadcastable to b (a Mamba-2 decay is one
scalar per head: a (Bt, T, H, 1, 1), b (Bt, T, H, P, N)).
"""
import torch


def scan_reference(a, b, h0=None):
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def _shift(x, off, fill):
    # x (Bt, C, Q, ...) -> x shifted by `off` along dim 2, the first `off` entries = fill
    pad = torch.full_like(x[:, :, :off], fill)
    return torch.cat([pad, x[:, :, :-off]], dim=2)


def scan(a, b, h0=None, chunk=64):
    Bt, T = b.shape[:2]
    if T <= 8:
        return scan_reference(a, b, h0)
    Q = min(chunk, 1 << (T - 1).bit_length())
    nc = -(-T // Q)
    pad = nc * Q - T
    if pad:
        a = torch.cat([a, torch.ones_like(a[:, :1]).expand((Bt, pad) + a.shape[2:])], dim=1)
        b = torch.cat([b, torch.zeros_like(b[:, :1]).expand((Bt, pad) + b.shape[2:])], dim=1)
    A = a.reshape((Bt, nc, Q) + a.shape[2:])          # (Bt, nc, Q, ...)
    Bv = b.reshape((Bt, nc, Q) + b.shape[2:])         # (Bt, nc, Q, ...)
    off = 1
    while off < Q:                                    # Hillis-Steele inside each chunk
        Bv = Bv + A * _shift(Bv, off, 0.0)
        A = A * _shift(A, off, 1.0)
        off *= 2
    # Bv[:, c, q] = state at step q of chunk c from a zero carry; A[:, c, q] = decay since chunk start
    ends = scan(A[:, :, -1], Bv[:, :, -1], h0, chunk)  # (Bt, nc, ...): state at each chunk end
    first = torch.zeros_like(ends[:, :1]) if h0 is None else h0.unsqueeze(1)
    carry = torch.cat([first, ends[:, :-1]], dim=1)   # (Bt, nc, ...): state entering each chunk
    h = Bv + A * carry.unsqueeze(2)
    h = h.reshape((Bt, nc * Q) + h.shape[3:])
    return h[:, :T]


def ssd(x, dt, A, B, C, h0=None, chunk=64):
    """Mamba-2's selective scan in its chunked matrix form (state space duality, Dao & Gu 2024,
    sec. 6): the same y as scan_reference on dA = exp(dt A), dBx = dt x B^T, without forming the
    (T, H, P, N) states. x (Bt, T, H, P), dt (Bt, T, H), A (H,), B, C (Bt, T, H, N), h0 (Bt, H, P, N)
    -> y_t = C_t . s_t (Bt, T, H, P) and the last state (Bt, H, P, N).

    Inside a chunk of Q steps with l_t = sum_{r <= t} dt_r A (cumulative log decay):
      y_t = sum_{s <= t} exp(l_t - l_s) (C_t . B_s) dt_s x_s  +  exp(l_t) C_t . S_in,
    S_in the state entering the chunk; chunk states are carried sequentially."""
    Bt, T, H, P = x.shape
    N = B.shape[-1]
    Q = chunk
    pad = (-T) % Q
    if pad:  # dt = 0 adds nothing and decays nothing
        x, dt, B, C = (torch.cat([v, v.new_zeros((Bt, pad) + v.shape[2:])], 1) for v in (x, dt, B, C))
    nc = (T + pad) // Q
    X = (x * dt.unsqueeze(-1)).reshape(Bt, nc, Q, H, P)
    l = torch.cumsum((dt * A).reshape(Bt, nc, Q, H), dim=2)                     # (Bt, nc, Q, H)
    Bc = B.reshape(Bt, nc, Q, H, N)
    Cc = C.reshape(Bt, nc, Q, H, N)
    causal = torch.ones(Q, Q, dtype=torch.bool, device=x.device).tril()
    diff = (l.unsqueeze(3) - l.unsqueeze(2)).masked_fill(~causal[None, None, :, :, None], float("-inf"))
    G = torch.einsum("bctHn,bcsHn->bctsH", Cc, Bc) * torch.exp(diff)          # (Bt, nc, Q, Q, H)
    y = torch.einsum("bctsH,bcsHp->bctHp", G, X)
    S = torch.einsum("bcsH,bcsHp,bcsHn->bcHpn", torch.exp(l[:, :, -1:] - l), X, Bc)  # each chunk's own state
    decay = torch.exp(l[:, :, -1])                                              # (Bt, nc, H)
    s = x.new_zeros(Bt, H, P, N) if h0 is None else h0
    entering = []
    for c in range(nc):
        entering.append(s)
        s = decay[:, c, :, None, None] * s + S[:, c]
    S_in = torch.stack(entering, 1)                                             # (Bt, nc, H, P, N)
    y = y + torch.einsum("bctHn,bcHpn->bctHp", Cc, S_in) * torch.exp(l).unsqueeze(-1)
    return y.reshape(Bt, nc * Q, H, P)[:, :T], s
