#!/usr/bin/env python3
"""Summarises every ./documents/*.txt with a local hearth (or Ollama) server through the official
OpenAI client, writing <name>.summary.txt next to each document.

    pip install openai
    hearth serve &            # listens on http://localhost:11434
    python3 examples/summarize.py

Environment: HEARTH_MODEL (default qwen3.5:9b), OPENAI_BASE_URL (default
http://localhost:11434/v1), HEARTH_REASONING_EFFORT ("none" skips the model's thinking).
"""
import glob
import os
import sys

from openai import OpenAI

MODEL = os.environ.get("HEARTH_MODEL", "qwen3.5:9b")
BASE_URL = os.environ.get("OPENAI_BASE_URL", "http://localhost:11434/v1")
REASONING_EFFORT = os.environ.get("HEARTH_REASONING_EFFORT")

client = OpenAI(base_url=BASE_URL, api_key="ollama")  # the key is required but not checked


def summarize(text: str) -> str:
    extra = {"reasoning_effort": REASONING_EFFORT} if REASONING_EFFORT else {}
    response = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You summarise documents accurately and concisely."},
            {"role": "user", "content": "Summarise this document:\n\n" + text},
        ],
        temperature=0.2,
        max_tokens=1024,
        **extra,
    )
    return response.choices[0].message.content or ""


def main() -> int:
    paths = sorted(p for p in glob.glob("./documents/*.txt") if not p.endswith(".summary.txt"))
    if not paths:
        print("no ./documents/*.txt to summarise", file=sys.stderr)
        return 1
    for path in paths:
        with open(path, encoding="utf-8") as f:
            summary = summarize(f.read())
        out = path[: -len(".txt")] + ".summary.txt"
        with open(out, "w", encoding="utf-8") as f:
            f.write(summary.strip() + "\n")
        print(f"{path} -> {out} ({len(summary)} chars)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
