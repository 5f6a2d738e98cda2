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
              "latency_samples", "self_esr", "parameters"):
        if k in metrics:
            v = metrics[k]
            meta[k] = f"{v:.6g}" if isinstance(v, float) else str(v)
    meta["training"] = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    safetensors_io.save(path, tensors, meta)
    return meta
