# SPDX-License-Identifier: GPL-3.0-or-later
"""The training loop: random windows of the training material, a warm-up
prefix excluded from the loss, ESR(pre-emphasised) + MR-STFT loss, Adam with a
cosine schedule, validation ESR on the held-out segment, early stopping, fixed
seeds. Works on the CPU (Debian's torch 1.13) and on CUDA (torch 2.x)."""
import copy
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from . import losses
from .models import AudioLstm, make_model, parameter_count


@dataclass
class TrainSettings:
    arch: str = "mamba2"              # mamba1 | mamba2 | lstm16 | lstm40
    size: str = "lite"                # lite | s | m | tiny (SSMs)
    seed: int = 0
    steps: int = 2000                 # upper bound; early stopping may end sooner
    batch: int = 16
    window: int = 32768               # samples per training window
    warmup: int = 8192                # leading samples of a window excluded from the loss (state settles)
    lr: float = 4e-3
    lr_final_ratio: float = 0.02
    stft_weight: float = 0.01
    eval_every: int = 100
    patience: int = 6                 # evaluations without improvement before stopping
    max_minutes: float = 0.0          # 0: no time limit
    val_preroll: int = 96000          # samples before the validation segment run as warm-up (not scored)
    grad_clip: float = 1.0
    device: str = "auto"
    init: str = ""                    # start from this model file (fine-tuning) instead of a fresh init

    def as_dict(self):
        return asdict(self)


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list = field(default_factory=list)
    best_step: int = 0
    best_val_esr: float = float("inf")
    stop_reason: str = ""
    seconds: float = 0.0
    device: str = ""
    val_prediction: np.ndarray = None
    val_target: np.ndarray = None
    val_input: np.ndarray = None


def pick_device(name):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA device is available to PyTorch")
    return torch.device(name)


def predict(model, x, device, chunk=None):
    """Runs a whole signal through the model from a zero state, in chunks (state carried). -> float64 numpy."""
    if chunk is None:  # cuDNN refuses long batch-1 LSTM sequences; the SSM scan takes big chunks
        chunk = 1 << 13 if isinstance(model, AudioLstm) else 1 << 20
    model.eval()
    dtype = next(model.parameters()).dtype
    out, state = [], None
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            u = torch.as_tensor(np.asarray(x[i:i + chunk]), dtype=dtype, device=device)[None]
            y, state = model(u, state)
            out.append(y[0].double().cpu().numpy())
    model.train()
    return np.concatenate(out) if out else np.zeros(0)


def _cosine(step, progress, lr, ratio, warm=50):
    """progress in [0, 1]: the fraction of the step budget (or of the time budget, whichever is further)."""
    if step < warm:
        return lr * (step + 1) / warm
    p = min(1.0, progress)
    return lr * (ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def train(x, y, train_ranges, val_range, settings: TrainSettings, log=print):
    """x, y: aligned (T,) arrays; train_ranges: [(start, end)]; val_range: (start, end)."""
    s = settings
    torch.manual_seed(s.seed)
    np.random.seed(s.seed)
    rng = np.random.default_rng(s.seed)
    device = pick_device(s.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model = make_model(s.arch, s.size, seed=s.seed)
    if s.init:
        from .export import load
        start, _ = load(s.init)
        model.load_state_dict(start.state_dict())  # refuses a file of another architecture or size
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    X = torch.as_tensor(np.asarray(x, np.float32), device=device)
    Y = torch.as_tensor(np.asarray(y, np.float32), device=device)
    ranges = [(a, b) for a, b in train_ranges if b - a >= s.window]
    if not ranges:
        raise ValueError(f"no training range is as long as the window ({s.window} samples)")
    weights = np.array([b - a - s.window + 1 for a, b in ranges], np.float64)
    weights /= weights.sum()
    v0, v1 = val_range
    pre = min(s.val_preroll, v0)
    vx, vy = np.asarray(x[v0 - pre:v1]), np.asarray(y[v0:v1], np.float64)
    offs = torch.arange(s.window, device=device)
    res = TrainResult(model=model, device=str(device))
    best_state, bad, t0 = None, 0, time.time()
    log(f"{s.arch} {s.size if not s.arch.startswith('lstm') else ''}: {parameter_count(model)} parameters, "
        f"device {device}, {len(ranges)} training ranges, validation {(v1 - v0) / 48000:.1f} s")
    run_loss = run_esr = 0.0
    for step in range(1, s.steps + 1):
        which = rng.choice(len(ranges), size=s.batch, p=weights)
        starts = np.array([rng.integers(ranges[k][0], ranges[k][1] - s.window + 1) for k in which])
        idx = torch.as_tensor(starts, device=device)[:, None] + offs        # (Bt, W)
        u, t = X[idx], Y[idx]
        # With a time limit the schedule follows whichever budget runs out first, so the learning rate
        # has decayed when the time is up (the only non-deterministic part; without one, runs repeat).
        progress = (step - 1) / s.steps
        if s.max_minutes:
            progress = max(progress, (time.time() - t0) / (60 * s.max_minutes))
        for g in opt.param_groups:
            g["lr"] = _cosine(step - 1, progress, s.lr, s.lr_final_ratio)
        pred, _ = model(u)
        loss, loss_esr = losses.training_loss(t[:, s.warmup:], pred[:, s.warmup:], s.stft_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        run_loss += loss.item()
        run_esr += loss_esr.item()
        if step % s.eval_every == 0 or step == s.steps:
            n = s.eval_every if step % s.eval_every == 0 else step % s.eval_every
            pv = predict(model, vx, device)[pre:]
            val = float(np.sum((vy - pv) ** 2) / max(np.sum(vy ** 2), 1e-30))
            if not np.isfinite(val):
                val = float("inf")
            rec = dict(step=step, loss=run_loss / n, esr_pre=run_esr / n, val_esr=val,
                       seconds=round(time.time() - t0, 2), lr=opt.param_groups[0]["lr"])
            res.history.append(rec)
            run_loss = run_esr = 0.0
            log(f"step {step:5d}  loss {rec['loss']:.4g}  esr(pre) {rec['esr_pre']:.4g}  val ESR {val:.4g}  "
                f"{rec['seconds']:.0f} s")
            if val < res.best_val_esr:
                res.best_val_esr, res.best_step, bad = val, step, 0
                best_state = copy.deepcopy(model.state_dict())
                res.val_prediction = pv
            else:
                bad += 1
                if bad >= s.patience:
                    res.stop_reason = f"early stop: no improvement in {s.patience} evaluations"
                    break
            if s.max_minutes and time.time() - t0 > 60 * s.max_minutes:
                res.stop_reason = f"time limit ({s.max_minutes:g} min)"
                break
    if not res.stop_reason:
        res.stop_reason = "step limit"
    if best_state is not None:
        model.load_state_dict(best_state)
    res.seconds = time.time() - t0
    res.val_target, res.val_input = vy, np.asarray(x[v0:v1], np.float64)
    model.cpu().eval()
    return res
