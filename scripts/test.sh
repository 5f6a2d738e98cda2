#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test — once in
# an optimised build and once under AddressSanitizer + UndefinedBehaviorSanitizer.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
JOBS=$(nproc 2>/dev/null || echo 2)

echo "== Release build + tests"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSIDEWINDER_BUILD_TESTS=ON -DSIDEWINDER_BUILD_PLUGIN=ON >/dev/null
cmake --build build/release -j"$JOBS"
# The CUDA backend is built here (nvcc, SIDEWINDER_CUDA=AUTO) but its tests
# (label gpu) need a GPU: they run on the GPU machine (docs/gpu.md).
ctest --test-dir build/release --output-on-failure -j"$JOBS" -LE gpu

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build + tests"
# The plugin is tested in the optimised build above: its shell is JUCE, and
# JUCE's LV2 build step dlopens the plugin in a helper that has no ASan
# runtime. Everything it runs on the audio thread (fx/, dsp/, ssm_core/) is
# in this build's tests.
# Without CUDA: the sanitizers do not instrument device code, and this build
# tests the CPU-only backend (no_cuda.cpp) that `--device auto` falls back to.
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIDEWINDER_SANITIZE=ON -DSIDEWINDER_BUILD_TESTS=ON \
  -DSIDEWINDER_BUILD_PLUGIN=OFF -DSIDEWINDER_CUDA=OFF >/dev/null
cmake --build build/asan -j"$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j"$JOBS"
