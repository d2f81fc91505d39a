// Test helpers for src/convert: tiny synthetic GGUFs, and the inverse of the converter's
// transforms (GGUF -> Hugging Face folder), written independently of src/convert so that a
// round trip checks every transform.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "convert/safetensors.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace hearth::convert::testing {

// A fresh empty temporary folder, removed on destruction.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// Tiny synthetic model (synthetic vocabulary) written to `path`.
void write_tiny_gguf(const std::string& path, model::Arch arch, model::FileType type,
                     uint64_t seed = 3);

struct HfOptions {
  StDType dtype = StDType::kF32;
  bool fused_experts = true;      // experts.gate_up_proj / down_proj vs per-expert tensors
  bool nested_config = true;      // text_config inside a multimodal config
  bool extra_tensors = true;      // an mtp.* and a visual tensor the converter must skip
  bool text_only_prefix = false;  // "model." (Qwen3_5ForCausalLM), not "model.language_model."
};

// Writes a Hugging Face folder (config.json, 2 safetensors shards + index, tokenizer.json,
// tokenizer_config.json) holding the weights of `gguf_path` in HF layout.
void gguf_to_hf(const std::string& gguf_path, const std::string& dir, const HfOptions& options);

// HF value head stored at GGUF position n (inverse of the tiled reorder).
inline int64_t hf_head_of_gguf(int64_t n, int64_t hk, int64_t r) {
  return (n % hk) * r + n / hk;
}

// Float values of a GGUF tensor (any supported type).
std::vector<float> tensor_values(const gguf::GgufFile& f, const std::string& name);

// Logits of one prefill over `tokens`, [T][n_vocab].
std::vector<float> prefill_logits(const model::Model& m, const std::vector<int32_t>& tokens,
                                  ThreadPool& pool);
double max_rel_error(const std::vector<float>& a, const std::vector<float>& ref);

}  // namespace hearth::convert::testing
