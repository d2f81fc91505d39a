// Synthetic Qwen3.5 models for tests and benchmarks: the exact published shapes (or a tiny shape
// with every feature: GDN with more value heads than key heads, full attention with GQA, dense
// or MoE FFN with a shared expert), random weights at realistic scales (deterministic for a
// seed), all metadata as llama.cpp writes it, and llama-quantize's per-tensor type mixing
// (model/quant_mix.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf_writer.h"
#include "model/gguf_metadata.h"
#include "model/hparams.h"
#include "model/quant_mix.h"
#include "tensor/dtype.h"

namespace hearth::model {

// A small byte-level BPE vocabulary: 256 byte tokens, a few merges, and the ChatML specials.
VocabData make_synthetic_vocab();
// GPT-2 byte-to-unicode mapping of one byte, UTF-8 encoded.
std::string byte_to_unicode(uint8_t b);

// Sizes: "tiny", "0.8b", "2b", "4b", "9b", "27b" (qwen35) and "35b-a3b" (qwen35moe); "tiny"
// exists for both. n_vocab is left 0 (set from the vocabulary).
Result<HParams> synthetic_hparams(Arch arch, std::string_view size, bool* tied_output);

struct SyntheticOptions {
  Arch arch = Arch::kQwen35;
  std::string size = "tiny";
  FileType type = FileType::kF32;
  uint64_t seed = 1;
  int64_t n_vocab = 0;  // model rows; 0 = vocab size for tiny, published 248320 otherwise
};

// Adds all metadata and (lazily generated) tensors to `out`. `vocab` must outlive the
// serialisation of `out`; so must `pool` (used to generate and quantise rows in parallel).
Status build_synthetic_model(const SyntheticOptions& options, const VocabData& vocab,
                             gguf::GgufWriter& out, ThreadPool& pool);

}  // namespace hearth::model
