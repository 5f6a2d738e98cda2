# SPDX-License-Identifier: GPL-3.0-or-later
"""python3 -m sidewinder_train INPUT.wav TARGET.wav -o preset.safetensors [options]

One command from a capture to a preset: check and align the pair, train,
export the model file, and write a report folder beside it. Exit status: 0
done, 2 bad input (one message says what), 1 anything else."""
import argparse
import os
import platform
import sys

import numpy as np

from . import align, capture_layout
from .audio_io import read_wav
from .errors import TrainError
from .export import export
from .loudness import integrated_lufs
from .models import SIZES, parameter_count


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python3 -m sidewinder_train", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="the standard capture (WAV) as played into the device")
    p.add_argument("target", help="the device's output recorded while playing it (WAV, same rate and length)")
    p.add_argument("-o", "--output", help="the model file to write (.safetensors); the report goes to OUTPUT's "
                   "name + '.report/'")
    p.add_argument("--arch", default="mamba2", choices=["mamba1", "mamba2", "lstm16", "lstm40"])
    p.add_argument("--size", default="lite", choices=sorted(SIZES["mamba2"]), help="SSM size (ignored for LSTMs)")
    p.add_argument("--name", default="", help="preset name (metadata)")
    p.add_argument("--description", default="")
    p.add_argument("--models", default="", help="what the preset models (metadata)")
    p.add_argument("--license", default="GPL-3.0-or-later")
    p.add_argument("--author", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--window", type=int, default=None, help="samples per window (default 32768 SSM, 8192 LSTM)")
    p.add_argument("--warmup", type=int, default=None, help="samples excluded from the loss (default window/4)")
    p.add_argument("--lr", type=float, default=4e-3)
    p.add_argument("--stft-weight", type=float, default=0.01)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--patience", type=int, default=6)
    p.add_argument("--max-minutes", type=float, default=0.0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--init", default="", help="start from this model file (same arch and size): fine-tuning")
    p.add_argument("--max-latency-ms", type=float, default=100.0)
    p.add_argument("--max-self-esr", type=float, default=2e-3,
                   help="refuse a device whose two identical repeat segments differ more than this")
    p.add_argument("--check-only", action="store_true", help="check and align the pair, print the figures, stop")
    a = p.parse_args(argv)
    if not a.check_only and not a.output:
        p.error("-o/--output is required (unless --check-only)")
    if not a.arch.startswith("lstm") and a.size not in SIZES[a.arch]:
        p.error(f"--size {a.size}: {a.arch} has sizes {', '.join(SIZES[a.arch])}")
    return a


def load_pair(args):
    x, rx = read_wav(args.input)
    y, ry = read_wav(args.target)
    return align.check_and_align(x, rx, y, ry, args.input, args.target, args.max_latency_ms, args.max_self_esr)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        pair = load_pair(args)
    except TrainError as e:
        print(f"sidewinder_train: error: {e}", file=sys.stderr)
        return 2
    print(f"pair ok: latency {pair.latency} samples (start {pair.head_latencies}, end {pair.tail_latencies}), "
          f"self-ESR {pair.self_esr:.3g}")
    if args.check_only:
        return 0
    import torch
    from .train import TrainSettings, train

    lstm = args.arch.startswith("lstm")
    window = args.window or (8192 if lstm else 32768)
    settings = TrainSettings(arch=args.arch, size=args.size, seed=args.seed, steps=args.steps, batch=args.batch,
                             window=window, warmup=args.warmup if args.warmup is not None else window // 4,
                             lr=args.lr, stft_weight=args.stft_weight, eval_every=args.eval_every,
                             patience=args.patience, max_minutes=args.max_minutes, device=args.device,
                             init=args.init)
    res = train(pair.x, pair.y, align.training_ranges(), capture_layout.validation_range(), settings)
    if res.val_prediction is None:
        print(f"sidewinder_train: error: training diverged: no evaluation gave a finite held-out ESR "
              f"(try a lower --lr)", file=sys.stderr)
        return 1
    metrics = collect_metrics(res, pair, settings)
    metrics.update(torch_version=torch.__version__, python=platform.python_version())
    out = args.output
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    info = dict(name=args.name or os.path.splitext(os.path.basename(out))[0], description=args.description,
                models=args.models, license=args.license, author=args.author,
                capture=f"sidewinder capture v{capture_layout.VERSION}")
    train_info = dict(settings.as_dict(), best_step=res.best_step, stop_reason=res.stop_reason,
                      seconds=round(res.seconds, 1), device=res.device, torch=torch.__version__)
    export(res.model, out, pair.sample_rate, info, metrics, train_info)
    from .report import write_report
    write_report(os.path.splitext(out)[0] + ".report", res, dict(metrics, **info, training=train_info),
                 info["name"], pair.sample_rate)
    print(f"wrote {out}: held-out ESR {metrics['held_out_esr']:.4g} ({res.stop_reason}, best step {res.best_step}, "
          f"{res.seconds:.0f} s)")
    return 0


def collect_metrics(res, pair, settings):
    import torch
    from . import losses

    y, p, x = res.val_target, res.val_prediction, res.val_input
    yt, pt = torch.as_tensor(y)[None], torch.as_tensor(p)[None]
    return dict(
        held_out_esr=align.esr(y, p),
        held_out_esr_preemph=float(losses.esr(losses.pre_emphasis(yt), losses.pre_emphasis(pt))),
        held_out_mrstft=float(losses.mrstft(yt, pt)),
        loudness_lufs=integrated_lufs(p, pair.sample_rate),
        target_loudness_lufs=integrated_lufs(y, pair.sample_rate),
        input_loudness_lufs=integrated_lufs(x, pair.sample_rate),
        latency_samples=int(pair.latency),
        self_esr=float(pair.self_esr),
        parameters=int(parameter_count(res.model)),
        arch=settings.arch,
        size=None if settings.arch.startswith("lstm") else settings.size,
    )
