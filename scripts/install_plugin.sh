#!/usr/bin/env bash
# Builds the Sidewinder plugin (if needed) and installs it for the current
# user: VST3 into ~/.vst3, LV2 into ~/.lv2, the Standalone into ~/.local/bin.
# Hosts (Ardour, Bitwig, REAPER, Carla, ...) find them there after a rescan.
# Usage: scripts/install_plugin.sh [BUILD_DIR]   (default build/release)
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/release}"
./scripts/install_deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSIDEWINDER_BUILD_PLUGIN=ON >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" \
  --target SidewinderPlugin_VST3 SidewinderPlugin_LV2 SidewinderPlugin_Standalone
art="$build/plugin/SidewinderPlugin_artefacts/Release"
mkdir -p ~/.vst3 ~/.lv2 ~/.local/bin
rm -rf ~/.vst3/Sidewinder.vst3 ~/.lv2/Sidewinder.lv2
cp -r "$art/VST3/Sidewinder.vst3" ~/.vst3/
cp -r "$art/LV2/Sidewinder.lv2" ~/.lv2/
install -m 755 "$art/Standalone/Sidewinder" ~/.local/bin/sidewinder-standalone
echo "installed: ~/.vst3/Sidewinder.vst3  ~/.lv2/Sidewinder.lv2  ~/.local/bin/sidewinder-standalone"
