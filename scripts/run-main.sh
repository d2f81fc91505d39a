#!/usr/bin/env bash
# The README's main job (`make run`): starts an interactive chat on the built-in demo model (a
# tiny synthetic Qwen3.5 with random weights, created on first use under ~/.hearth/models).
# Non-interactive (no terminal on stdin): answers one prompt instead.
set -euo pipefail
BUILD=${1:-build}
BIN=$BUILD/bin/hearth
echo "hearth: demo chat (random weights, so the text is noise). /bye or Ctrl-D to exit."
if [ -t 0 ]; then
  exec "$BIN" run demo
else
  exec "$BIN" run demo "Hello! Who are you?" --max-tokens 32 </dev/null
fi
