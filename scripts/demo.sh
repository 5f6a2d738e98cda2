#!/usr/bin/env bash
# README command 1: install what is missing, build, and render the bundled
# clip through the default preset (presets/ts-overdrive.safetensors).
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
JOBS=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSIDEWINDER_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j"$JOBS" --target sidewinder
mkdir -p out
MODEL=presets/ts-overdrive.safetensors
./build/release/cli/sidewinder info "$MODEL"
./build/release/cli/sidewinder render tests/data/demo_clip.wav out/demo_clip_sidewinder.wav --model "$MODEL" --json
echo
echo "Rendered: $(pwd)/out/demo_clip_sidewinder.wav  (input: tests/data/demo_clip.wav)"
echo "The sidewinder command is at $(pwd)/build/release/cli/sidewinder"
