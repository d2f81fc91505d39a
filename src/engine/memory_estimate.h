// Memory and speed estimates for a Qwen3.5 model instance (anchors §6.2): weights, KV cache of the
// full-attention layers only, per-sequence recurrent + conv state, compute buffers, and the
// prefix-cache budget; decode speed from bytes read per token over a memory bandwidth.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "gguf/gguf_file.h"
#include "model/hparams.h"

namespace hearth::engine {

struct MemoryEstimate {
  uint64_t weights = 0;          // bytes of the weight tensors
  uint64_t kv_cache = 0;         // all sequences at full context (f16 K and V, attention layers)
  uint64_t recurrent_state = 0;  // all sequences: delta-rule state + conv state (f32)
  uint64_t compute = 0;          // activations of one step + logits
  uint64_t runtime = 0;          // the process itself, parsed GGUF metadata, tokenizer tables
  uint64_t total() const { return weights + kv_cache + recurrent_state + compute + runtime; }
  uint64_t bytes_per_token = 0;  // weights read per decoded token (active experts only for MoE)
};

// hp: the model's hyper-parameters (n_vocab set). weight_bytes: from the file when known, else 0
// to compute from the shapes at `bits_per_weight`. The runtime term assumes as many merges as
// tokens (Qwen3.5's tokenizer: 248K of each); estimate_memory_for_file counts the file's.
MemoryEstimate estimate_memory(const model::HParams& hp, uint64_t weight_bytes,
                               double bits_per_weight, bool tied_output, int64_t context,
                               int n_sequences, int64_t step_tokens = 512);

// Memory the process needs besides tensors and state: the binary, its libraries and thread stacks
// (~16 MiB), the GGUF metadata as parsed at open (every array element becomes a gguf::Value, so
// the token list, token types and merges cost ~100 B per entry, strings aside) and the
// tokenizer's lookup tables. Calibrated from VmHWM of `hearth tokenize` on two files that differ
// only in vocabulary size (151669 and 248320 tokens, 151387 merges): ~352 B per token and
// ~222 B per merge. Small next to the weights of a large model, ~15 % of a 0.8B q8_0 one.
uint64_t runtime_overhead_bytes(uint64_t n_tokens, uint64_t n_merges);

// The estimate for a model file: shapes from its metadata, weights = its tensors' bytes (what the
// mmap brings into memory once every weight has been read), output head tied when the file has
// no output.weight.
Result<MemoryEstimate> estimate_memory_for_file(const gguf::GgufFile& file, int64_t context,
                                                int n_sequences);

// Parameters of the model (all experts) and those active per token.
struct ParamCount {
  uint64_t total = 0;
  uint64_t active = 0;
};
ParamCount count_params(const model::HParams& hp, bool tied_output);

// Human-readable bytes: "5.48 GiB".
std::string format_bytes(uint64_t bytes);

}  // namespace hearth::engine
