# SPDX-License-Identifier: GPL-3.0-or-later
"""The Sidewinder audio model in PyTorch: the same computation as the C++
engine (docs/model_format.md), with the tensor names of mamba_ssm, so that
`state_dict()` is the model file. Written from the official semantics; no
mamba_ssm dependency.

ref: mamba_ssm/modules/mamba_simple.py (Mamba), mamba_ssm/modules/mamba2.py
(Mamba2), mamba_ssm/ops/selective_scan_interface.py (selective_scan_ref),
mamba_ssm/ops/triton/layernorm_gated.py (rms_norm_ref, norm_before_gate=False),
mamba_ssm/models/mixer_seq_simple.py + modules/block.py (residual blocks).

Shapes: Bt batch, T time, D d_model, E d_inner, N d_state, K d_conv, R
dt_rank, H heads, P headdim, G ngroups.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .scan import scan, scan_reference, ssd

# Named sizes. The cost of each on this project's reference machine is in
# presets/README.md; `lite` aims at the cost of a 16-unit LSTM.
SIZES = {
    "mamba1": {
        "xs": dict(n_layers=1, d_model=4, d_inner=8, d_state=4, dt_rank=1),
        "lite": dict(n_layers=1, d_model=8, d_inner=16, d_state=4, dt_rank=1),
        "s": dict(n_layers=2, d_model=8, d_inner=16, d_state=4, dt_rank=1),
        "m": dict(n_layers=2, d_model=16, d_inner=32, d_state=8, dt_rank=2),
        "tiny": dict(n_layers=1, d_model=4, d_inner=8, d_state=2, dt_rank=1),
    },
    "mamba2": {
        "pico": dict(n_layers=1, d_model=4, d_inner=8, d_state=2, headdim=8, d_conv=2),
        "nano": dict(n_layers=1, d_model=4, d_inner=8, d_state=4, headdim=8),
        "xs": dict(n_layers=1, d_model=8, d_inner=8, d_state=8, headdim=4),
        "lite": dict(n_layers=1, d_model=8, d_inner=16, d_state=8, headdim=8),
        "s": dict(n_layers=2, d_model=8, d_inner=16, d_state=8, headdim=8),
        "m": dict(n_layers=2, d_model=16, d_inner=32, d_state=8, headdim=8),
        "tiny": dict(n_layers=2, d_model=4, d_inner=8, d_state=4, headdim=4),
    },
}


@dataclass
class SsmConfig:
    arch: str = "mamba2"
    n_layers: int = 1
    d_model: int = 8
    d_inner: int = 16
    d_state: int = 8
    d_conv: int = 4
    dt_rank: int = 1          # Mamba-1
    headdim: int = 8          # Mamba-2
    ngroups: int = 1          # Mamba-2
    norm_eps: float = 1e-5
    gate_norm_eps: float = 1e-5
    skip: bool = True
    dt_min: float = 1e-5      # time constants from ~1 sample to ~2 s at 48 kHz
    dt_max: float = 0.5

    @staticmethod
    def named(arch, size):
        if arch not in SIZES or size not in SIZES[arch]:
            raise ValueError(f"unknown size '{size}' for {arch} (known: {', '.join(SIZES.get(arch, {}))})")
        return SsmConfig(arch=arch, **SIZES[arch][size])

    def as_dict(self):
        return asdict(self)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def causal_conv(x, weight, bias, conv_state=None):
    """x (Bt, T, C) -> (Bt, T, C): depthwise causal conv1d, history zero (or conv_state (Bt, K-1, C))."""
    K = weight.shape[-1]
    if conv_state is None:
        conv_state = x.new_zeros(x.shape[0], K - 1, x.shape[2])
    xp = torch.cat([conv_state, x], dim=1).transpose(1, 2)            # (Bt, C, T+K-1)
    y = F.conv1d(xp, weight, bias, groups=x.shape[2])                  # (Bt, C, T)
    return y.transpose(1, 2), xp.transpose(1, 2)[:, -(K - 1):]


def _inv_softplus(y):
    return y + torch.log(-torch.expm1(-y))


def _init_dt(n, cfg, gen):
    dt = torch.exp(torch.rand(n, generator=gen) * (math.log(cfg.dt_max) - math.log(cfg.dt_min)) + math.log(cfg.dt_min))
    return _inv_softplus(dt)


class Mamba1Mixer(nn.Module):
    def __init__(self, cfg, gen):
        super().__init__()
        D, E, N, K, R = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.d_conv, cfg.dt_rank
        self.cfg = cfg
        self.in_proj = nn.Linear(D, 2 * E, bias=False)
        self.conv1d = nn.Conv1d(E, E, K, groups=E, bias=True)
        self.x_proj = nn.Linear(E, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, E, bias=True)
        self.out_proj = nn.Linear(E, D, bias=False)
        # S4D-real initialisation of A (as mamba_simple.py): A[e, n] = -(n + 1)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1))
        self.D = nn.Parameter(torch.ones(E))
        with torch.no_grad():
            self.dt_proj.bias.copy_(_init_dt(E, cfg, gen))

    def forward(self, h, state=None, reference=False):
        cfg = self.cfg
        E, N, R = cfg.d_inner, cfg.d_state, cfg.dt_rank
        x, z = self.in_proj(h).split([E, E], dim=-1)                          # (Bt, T, E) each
        x, conv_state = causal_conv(x, self.conv1d.weight, self.conv1d.bias, None if state is None else state[0])
        x = F.silu(x)
        dt, B, C = self.x_proj(x).split([R, N, N], dim=-1)                    # (Bt,T,R), (Bt,T,N), (Bt,T,N)
        dt = F.softplus(self.dt_proj(dt))                                     # (Bt, T, E); threshold 20 as the engine
        A = -torch.exp(self.A_log)                                            # (E, N)
        dA = torch.exp(dt.unsqueeze(-1) * A)                                  # (Bt, T, E, N)
        dBx = (dt * x).unsqueeze(-1) * B.unsqueeze(2)                         # (Bt, T, E, N)
        s = (scan_reference if reference else scan)(dA, dBx, None if state is None else state[1])
        y = (s * C.unsqueeze(2)).sum(-1) + self.D * x                         # (Bt, T, E)
        out = self.out_proj(y * F.silu(z))                                    # (Bt, T, D)
        return out, (conv_state, s[:, -1])


class Mamba2Mixer(nn.Module):
    def __init__(self, cfg, gen):
        super().__init__()
        D, E, N, K, G = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.d_conv, cfg.ngroups
        assert E % cfg.headdim == 0, "d_inner must be a multiple of headdim"
        H = E // cfg.headdim
        assert H % G == 0, "heads must be a multiple of ngroups"
        self.cfg, self.H = cfg, H
        self.in_proj = nn.Linear(D, 2 * E + 2 * G * N + H, bias=False)
        self.conv1d = nn.Conv1d(E + 2 * G * N, E + 2 * G * N, K, groups=E + 2 * G * N, bias=True)
        self.dt_bias = nn.Parameter(_init_dt(H, cfg, gen))
        # A uniform in [1, 16] as mamba2.py
        self.A_log = nn.Parameter(torch.log(1 + 15 * torch.rand(H, generator=gen)))
        self.D = nn.Parameter(torch.ones(H))
        self.norm = nn.Module()
        self.norm.weight = nn.Parameter(torch.ones(E))
        self.out_proj = nn.Linear(E, D, bias=False)
        self.use_ssd = False  # the voice trainer turns it on (scan.ssd)

    def forward(self, h, state=None, reference=False):
        cfg, H = self.cfg, self.H
        E, N, G, P = cfg.d_inner, cfg.d_state, cfg.ngroups, cfg.headdim
        Bt, T = h.shape[:2]
        z, xBC, dt = self.in_proj(h).split([E, E + 2 * G * N, H], dim=-1)
        xBC, conv_state = causal_conv(xBC, self.conv1d.weight, self.conv1d.bias, None if state is None else state[0])
        xBC = F.silu(xBC)
        x, B, C = xBC.split([E, G * N, G * N], dim=-1)
        x = x.reshape(Bt, T, H, P)                                             # (Bt, T, H, P)
        rep = H // G
        B = B.reshape(Bt, T, G, 1, N).expand(Bt, T, G, rep, N).reshape(Bt, T, H, N)
        C = C.reshape(Bt, T, G, 1, N).expand(Bt, T, G, rep, N).reshape(Bt, T, H, N)
        dt = F.softplus(dt + self.dt_bias)                                     # (Bt, T, H)
        A = -torch.exp(self.A_log)                                             # (H,)
        if reference or not self.use_ssd:
            dA = torch.exp(dt * A)[..., None, None]                            # (Bt, T, H, 1, 1)
            dBx = (dt[..., None] * x).unsqueeze(-1) * B.unsqueeze(3)           # (Bt, T, H, P, N)
            s = (scan_reference if reference else scan)(dA, dBx, None if state is None else state[1])
            y = (s * C.unsqueeze(3)).sum(-1) + self.D[:, None] * x             # (Bt, T, H, P)
            last = s[:, -1]
        else:  # the chunked matrix form: same y, no per-step states (training)
            y, last = ssd(x, dt, A, B, C, None if state is None else state[1])
            y = y + self.D[:, None] * x
        y = y.reshape(Bt, T, E) * F.silu(z)
        yg = y.reshape(Bt, T, G, E // G)
        yg = yg * torch.rsqrt(yg.pow(2).mean(-1, keepdim=True) + cfg.gate_norm_eps)
        y = yg.reshape(Bt, T, E) * self.norm.weight
        return self.out_proj(y), (conv_state, last)


class Block(nn.Module):
    def __init__(self, cfg, gen):
        super().__init__()
        self.cfg = cfg
        self.norm = nn.Module()
        self.norm.weight = nn.Parameter(torch.ones(cfg.d_model))
        self.mixer = (Mamba1Mixer if cfg.arch == "mamba1" else Mamba2Mixer)(cfg, gen)


class AudioSsm(nn.Module):
    """u (Bt, T) -> y (Bt, T): audio.in_proj, residual Mamba blocks, norm_f, audio.out_proj + skip."""

    def __init__(self, cfg: SsmConfig, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.cfg = cfg
        self.audio = nn.Module()
        self.audio.in_proj = nn.Linear(1, cfg.d_model)
        self.audio.out_proj = nn.Linear(cfg.d_model, 1)
        with torch.no_grad():  # start near silence (ESR ~1), not at a random loud output
            self.audio.out_proj.weight.mul_(0.05)
            self.audio.out_proj.bias.zero_()
        if cfg.skip:
            self.audio.skip = nn.Linear(1, 1, bias=False)
            with torch.no_grad():
                self.audio.skip.weight.fill_(0.0)
        self.backbone = nn.Module()
        self.backbone.layers = nn.ModuleList([Block(cfg, gen) for _ in range(cfg.n_layers)])
        self.backbone.norm_f = nn.Module()
        self.backbone.norm_f.weight = nn.Parameter(torch.ones(cfg.d_model))

    def forward(self, u, state=None, reference=False):
        cfg = self.cfg
        x = u.unsqueeze(-1)                                                    # (Bt, T, 1)
        r = self.audio.in_proj(x)                                              # (Bt, T, D)
        new_state = []
        for i, blk in enumerate(self.backbone.layers):
            out, st = blk.mixer(rmsnorm(r, blk.norm.weight, cfg.norm_eps), None if state is None else state[i], reference)
            r = r + out
            new_state.append(st)
        y = self.audio.out_proj(rmsnorm(r, self.backbone.norm_f.weight, cfg.norm_eps))
        if cfg.skip:
            y = y + self.audio.skip(x)
        return y.squeeze(-1), new_state

    def export_metadata(self):
        cfg = self.cfg
        meta = {"format": "sidewinder", "format_version": "1", "arch": cfg.arch,
                "norm_eps": repr(cfg.norm_eps)}
        if cfg.arch == "mamba2":
            meta.update(headdim=str(cfg.headdim), ngroups=str(cfg.ngroups), gate_norm_eps=repr(cfg.gate_norm_eps))
        return meta


class AudioLstm(nn.Module):
    """The field's baseline (GuitarML / AIDA-X / NAM LSTM): 1 layer, linear head, input skip."""

    def __init__(self, hidden, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.hidden = hidden
        self.lstm = nn.LSTM(1, hidden, num_layers=1, batch_first=True)
        self.head = nn.Linear(hidden, 1)
        self.skip = nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            self.skip.weight.fill_(0.0)

    def forward(self, u, state=None, reference=False):
        x = u.unsqueeze(-1)
        h, st = self.lstm(x, state)
        return (self.head(h) + self.skip(x)).squeeze(-1), st

    def export_metadata(self):
        return {"format": "sidewinder-lstm", "format_version": "1", "hidden": str(self.hidden)}


def make_model(arch, size=None, seed=0):
    """arch: mamba1 | mamba2 (with a named size) | lstm16 | lstm40."""
    if arch in ("lstm16", "lstm40"):
        return AudioLstm(int(arch[4:]), seed)
    return AudioSsm(SsmConfig.named(arch, size or "lite"), seed)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())
