#!/usr/bin/env bash
# Starts the Sidewinder Standalone under Xvfb (no audio device needed), waits
# for its window, saves a screenshot of the screen (the editor) as a build
# artefact, and checks that the window showed up and the picture is not blank.
# Usage: standalone_screenshot.sh STANDALONE OUT.png
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
app="$1"
out="$2"
for tool in xvfb-run xwininfo import; do
  command -v "$tool" >/dev/null || { echo "standalone_screenshot: $tool not found (scripts/install_deps.sh installs it)"; exit 1; }
done
mkdir -p "$(dirname "$out")"
rm -f "$out"
export SW_APP="$app" SW_OUT="$out"
# A private HOME: the Standalone writes its settings there.
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
HOME="$home" xvfb-run -a -s "-screen 0 800x520x24" bash -c '
  "$SW_APP" > "$HOME/app.log" 2>&1 &
  pid=$!
  found=""
  for i in $(seq 1 100); do
    if xwininfo -root -tree 2>/dev/null | grep -q "\"Sidewinder\""; then found=1; break; fi
    if ! kill -0 $pid 2>/dev/null; then echo "the Standalone exited early:"; cat "$HOME/app.log"; exit 1; fi
    sleep 0.1
  done
  [ -n "$found" ] || { echo "no Sidewinder window after 10 s"; kill $pid; exit 1; }
  sleep 1.5   # let the editor paint (meters, model info)
  import -window root "$SW_OUT"
  kill $pid
  wait $pid 2>/dev/null || true
'
[ -s "$out" ] || { echo "no screenshot written"; exit 1; }
# Not blank: the picture has more than a handful of colours.
colours=$(convert "$out" -format %k info:)
echo "screenshot: $out ($colours colours)"
[ "$colours" -gt 16 ]
