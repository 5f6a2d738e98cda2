#!/usr/bin/env bash
# Runs the CUDA backend's tests and benchmarks on a GPU machine from binaries
# built elsewhere (the build machine has nvcc but no GPU):
#   gpu/tests/run_on_device.sh BIN_DIR OUT_DIR
# BIN_DIR holds sidewinder, sidewinder_gpu_tests, sidewinder_gpu_scan_check
# and lib/ (their shared libraries, from `ldd`). Results go to OUT_DIR.
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail
BIN=$(cd "$1" && pwd)
OUT=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export LD_LIBRARY_PATH="$BIN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SW_PRESETS_DIR="$ROOT/presets"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$OUT/gpu.txt" 2>&1
rc=0
# 1. Parity (the tests labelled gpu).
"$BIN/sidewinder_gpu_scan_check" >"$OUT/parity.txt" 2>&1 || rc=1
"$BIN/sidewinder_gpu_tests" --durations yes >>"$OUT/parity.txt" 2>&1 || rc=1
# 2. render --device cuda against --device cpu on a long file and on many files.
python3 - "$OUT" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(7)
t = np.arange(48000 * 120) / 48000.0
x = (0.5 * np.sin(2 * np.pi * 110 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)) + 0.05 * rng.standard_normal(t.size))
x.astype('<f4').tofile(sys.argv[1] + '/long.f32')
for i in range(8):
    (0.3 * np.sin(2 * np.pi * (80 + 30 * i) * t[:48000 * 10]) + 0.02 * rng.standard_normal(48000 * 10)).astype('<f4').tofile(f'{sys.argv[1]}/many{i}.f32')
PY
M="$ROOT/presets/ts-overdrive.safetensors"
mkdir -p "$OUT/cpu" "$OUT/cuda"
"$BIN/sidewinder" render "$OUT/long.f32" "$OUT/cpu/long.f32" -m "$M" --offline --json >"$OUT/render.txt" 2>&1 || rc=1
"$BIN/sidewinder" render "$OUT/long.f32" "$OUT/cuda/long.f32" -m "$M" --device cuda --json >>"$OUT/render.txt" 2>&1 || rc=1
"$BIN/sidewinder" render --out-dir "$OUT/cpu" "$OUT"/many*.f32 -m "$M" --offline >/dev/null 2>&1 || rc=1
"$BIN/sidewinder" render --out-dir "$OUT/cuda" "$OUT"/many*.f32 -m "$M" --device cuda --json >>"$OUT/render.txt" 2>&1 || rc=1
python3 - "$OUT" >>"$OUT/render.txt" 2>&1 <<'PY' || rc=1
import numpy as np, sys, glob, os
worst = 0.0
for f in sorted(glob.glob(sys.argv[1] + '/cpu/*.f32')):
    a = np.fromfile(f, '<f4'); b = np.fromfile(f.replace('/cpu/', '/cuda/'), '<f4')
    assert a.size == b.size and a.size > 0, f
    e = float(np.abs(a - b).max() / max(1.0, np.abs(a).max())); worst = max(worst, e)
    print(os.path.basename(f), a.size, 'max |cuda - cpu| / max(1, peak) =', e)
print('worst', worst, 'ok' if worst <= 2e-4 else 'FAIL')
sys.exit(0 if worst <= 2e-4 else 1)
PY
rm -f "$OUT"/*.f32 "$OUT"/cpu/*.f32 "$OUT"/cuda/*.f32
# 3. Benchmarks.
"$BIN/sidewinder_gpu_scan_check" --bench --json "$OUT/scan.json" >"$OUT/bench.txt" 2>&1 || rc=1
python3 "$ROOT/bench/gpu_scan_torch.py" --json "$OUT/torch.json" >>"$OUT/bench.txt" 2>&1 || rc=1
"$BIN/sidewinder" bench --device cuda -m "$M" --repeats 7 >>"$OUT/bench.txt" 2>&1 || rc=1
echo "rc=$rc" >>"$OUT/gpu.txt"
exit $rc
