#!/usr/bin/env python3
"""Fails if a src/ file includes a header from a layer it may not use (docs/ARCHITECTURE.md),
if SIMD intrinsics appear outside src/kernels, or if a public header below api/ exposes JSON."""
import os
import re
import sys

# layer -> layers it may include (besides itself)
ALLOWED = {
    "base": set(),
    "tensor": {"base"},
    "gguf": {"tensor", "base"},
    "kernels": {"tensor", "base"},
    "store": {"gguf", "tensor", "base"},
    "model": {"kernels", "gguf", "tensor", "base"},
    "convert": {"model", "kernels", "gguf", "tensor", "base"},
    "tokenizer": {"gguf", "tensor", "base"},
    "chat": {"base"},
    "sampling": {"base"},
    "engine": {"convert", "model", "tokenizer", "sampling", "chat", "kernels", "gguf", "tensor", "base"},
    "api": {"store", "engine", "convert", "model", "tokenizer", "sampling", "chat", "kernels", "gguf", "tensor", "base"},
    "server": {"store", "api", "engine", "convert", "model", "tokenizer", "sampling", "chat", "kernels", "gguf", "tensor", "base"},
    "cli": {"store", "server", "api", "engine", "convert", "model", "tokenizer", "sampling", "chat", "kernels", "gguf", "tensor",
            "base"},
}
BELOW_API = {"base", "tensor", "gguf", "store", "kernels", "model", "convert", "tokenizer", "chat", "sampling", "engine"}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
INTRINSICS = re.compile(r'(immintrin|x86intrin|arm_neon|emmintrin|xmmintrin|avx\w*intrin)\.h')

def main(root):
    src = os.path.join(root, "src")
    errors = []
    for dirpath, _, files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        layer = rel.split(os.sep)[0]
        if layer not in ALLOWED:
            if rel != ".":
                errors.append(f"src/{rel}: folder is not a known layer (add it to scripts/check_layers.py)")
            continue
        for name in files:
            if not name.endswith((".h", ".cpp", ".cu", ".cuh")):
                continue
            path = os.path.join(dirpath, name)
            shown = os.path.relpath(path, root)
            with open(path, encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    top = inc.split("/")[0]
                    if top in ALLOWED and top != layer and top not in ALLOWED[layer]:
                        errors.append(f"{shown}:{lineno}: layer '{layer}' may not include '{inc}'")
                    if INTRINSICS.search(inc) and layer != "kernels":
                        errors.append(f"{shown}:{lineno}: SIMD intrinsics outside src/kernels: '{inc}'")
                    if "nlohmann" in inc and layer in BELOW_API and name.endswith(".h"):
                        errors.append(f"{shown}:{lineno}: JSON type in a public header below api/: '{inc}'")
    for e in errors:
        print(e)
    print(f"layering: {len(errors)} violation(s)")
    return 1 if errors else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
