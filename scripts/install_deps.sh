#!/usr/bin/env bash
# Installs what building and testing Sidewinder needs, from Debian 12 packages.
# Idempotent: installs only what is missing.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libeigen3-dev          # ssm_core (reference model)
  nlohmann-json3-dev     # model loader, CLI JSON, the Wyoming protocol
  libasio-dev            # sidewinderd networking (standalone Asio)
  libcpp-httplib-dev     # sidewinderd's OpenAI-compatible HTTP API
  curl                   # the HTTP API's tests: a real client
  portaudio19-dev        # local audio: sidewinderd --play, sidewinder speak --play, sidewinder live
  jackd2                 # PortAudio tested against JACK's dummy driver (no sound hardware needed)
  librtmidi-dev          # MIDI input (sidewinder live, sidewinderd)
  libsndfile1-dev        # audio files
  libsoxr-dev            # resampling
  libcli11-dev           # command line
  catch2                 # tests (Catch2 v2)
  clang-format           # style check (tests/check_format.sh)
  python3-numpy python3-scipy python3-matplotlib  # trainer, reference scripts
  python3-torch          # trainer (training/), its tests and the C++/PyTorch cross-check
  libopenblas0-pthread   # python3-torch links the generic libblas.so.3 otherwise (20x slower matrix products)
  libespeak-ng-dev       # speech front end (speech/): text to phonemes
  juce-modules-source    # the plugin (plugin/): JUCE 7.0.5, CMake package + modules
  xvfb x11-utils imagemagick  # the plugin's Standalone started headless, its screenshot
  pocketsphinx pocketsphinx-en-us  # speech end-to-end test: the shipped voice must be understood
)
# Only for making the capture signal and the circuit targets (training/capture,
# presets/circuits): ./scripts/install_deps.sh --presets
# Only for building the voice corpora and measuring intelligibility
# (training/speech): ./scripts/install_deps.sh --voice
if [ "${1:-}" = "--voice" ]; then
  PACKAGES+=(ffmpeg asterisk-core-sounds-en asterisk-core-sounds-en-g722
             festival festvox-us-slt-hts fortunes espeak-ng python3-numba)
fi
if [ "${1:-}" = "--presets" ]; then
  PACKAGES+=(fluidsynth fluid-soundfont-gm asterisk-core-sounds-en-wav ngspice libngspice0-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install_deps: missing packages (${missing[*]}); run as root or install sudo" >&2
    exit 1
  fi
  SUDO="sudo"
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
