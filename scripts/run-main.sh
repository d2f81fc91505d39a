#!/usr/bin/env bash
# The README's main job (`make run`): shows the CLI and inspects a GGUF file the build generates.
set -euo pipefail
BUILD=${1:-build}
BIN=$BUILD/bin/hearth
$BIN --help
$BIN gguf info "../shared/testdata/tokenizer/llama.cpp/ggml-vocab-qwen35.gguf" 2>/dev/null || true
