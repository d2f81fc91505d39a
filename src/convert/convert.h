// `hearth convert`: a Hugging Face Qwen3.5 folder (config.json, safetensors shards,
// tokenizer.json, tokenizer_config.json / chat_template.jinja) -> GGUF with llama.cpp's
// metadata keys, tensor names and transforms (qwen35-architecture.md §8.2-8.5, §8.7), so the
// result loads in both hearth and llama.cpp.
#pragma once

#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "convert/quantize.h"

namespace hearth::convert {

// Value-head reordering of §8.5 on an axis of Hk * r heads of `hd` contiguous elements each:
// HF ("grouped") head g*r + j moves to GGUF ("tiled") position j*Hk + g. `src` and `dst` hold
// Hk*r*hd elements of `unit` contiguous floats each (unit = row length to move whole rows).
void reorder_value_heads(const float* src, float* dst, int64_t hk, int64_t r, int64_t hd,
                         int64_t unit);

// Converts `hf_dir` to `out_gguf`; tensor types follow plan_tensor_types(type, ...).
Status convert_hf(const std::string& hf_dir, const std::string& out_gguf, FileType type,
                  ThreadPool& pool, ProgressFn progress = {});

}  // namespace hearth::convert
