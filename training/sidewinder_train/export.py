# SPDX-License-Identifier: GPL-3.0-or-later
"""Export a trained model to a Sidewinder model file (docs/model_format.md):
the state_dict under mamba_ssm names, float32, with self-describing metadata."""
import json

import numpy as np

from . import safetensors_io
from .models import AudioLstm


def export(model, path, sample_rate, info, metrics, settings):
    """info: human metadata (name, description, models, license, author); metrics: figures measured on
    the held-out segment; settings: TrainSettings.as_dict() plus anything else worth keeping."""
    tensors = {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}
    for k, v in tensors.items():
        if not np.all(np.isfinite(v)):
            raise ValueError(f"refusing to export: tensor {k} is not finite")
    meta = dict(model.export_metadata())
    meta["sample_rate"] = str(int(sample_rate))
    for k, v in info.items():
        if v is not None and v != "":
            meta[k] = str(v)
    for k in ("held_out_esr", "held_out_esr_preemph", "held_out_mrstft", "loudness_lufs", "input_loudness_lufs",
              "target_loudness_lufs", "latency_samples", "self_esr", "parameters"):
        if k in metrics:
            v = metrics[k]
            meta[k] = f"{v:.6g}" if isinstance(v, float) else str(v)
    meta["training"] = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    safetensors_io.save(path, tensors, meta)
    return meta


def load(path):
    """A model file written by export() -> (torch module in float32, metadata). Sizes are read from the
    tensor shapes, as the C++ loader does."""
    import torch

    from .models import AudioSsm, SsmConfig

    t, meta = safetensors_io.load(path)
    if meta.get("format") == "sidewinder-lstm":
        H = t["lstm.weight_hh_l0"].shape[1]
        model = AudioLstm(H)
    else:
        arch = meta["arch"]
        L = 1 + max(int(k.split(".")[2]) for k in t if k.startswith("backbone.layers."))
        D = t["backbone.norm_f.weight"].shape[0]
        conv = t["backbone.layers.0.mixer.conv1d.weight"]
        cfg = SsmConfig(arch=arch, n_layers=L, d_model=D, d_conv=conv.shape[-1], skip="audio.skip.weight" in t,
                        norm_eps=float(meta.get("norm_eps", 1e-5)),
                        gate_norm_eps=float(meta.get("gate_norm_eps", 1e-5)))
        if arch == "mamba1":
            cfg.d_inner, cfg.d_state = t["backbone.layers.0.mixer.A_log"].shape
            cfg.dt_rank = t["backbone.layers.0.mixer.dt_proj.weight"].shape[1]
        else:
            cfg.d_inner = t["backbone.layers.0.mixer.norm.weight"].shape[0]
            cfg.headdim, cfg.ngroups = int(meta["headdim"]), int(meta["ngroups"])
            H = t["backbone.layers.0.mixer.A_log"].shape[0]
            cfg.d_state = (conv.shape[0] - cfg.d_inner) // (2 * cfg.ngroups)
            assert H == cfg.d_inner // cfg.headdim, f"{path}: heads do not match headdim"
        model = AudioSsm(cfg)
    model.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in t.items()})
    return model.eval(), meta
