// The GGUF metadata of a Qwen3.5 model as llama.cpp writes it (qwen35-architecture.md §8.2,
// §8.7): the general.* keys, the qwen35 / qwen35moe hyperparameter keys and the tokenizer.ggml.*
// keys, in llama.cpp's order. Shared by the synthetic model generator and the HF converter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"
#include "model/hparams.h"
#include "model/quant_mix.h"

namespace hearth::model {

// Tokenizer data written as tokenizer.ggml.* keys.
struct VocabData {
  std::vector<std::string> tokens;   // [n] byte-level pieces
  std::vector<int32_t> token_types;  // [n] 1 normal, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<std::string> merges;   // "left right" in rank order
  int32_t bos_id = -1;               // -1: key not written
  int32_t eos_id = -1;
  int32_t pad_id = -1;
  std::string pre = "qwen35";
  std::string chat_template;  // empty: not written
};

struct ModelMetadata {
  std::string name;                     // general.name
  std::string size_label;               // general.size_label; empty: not written
  FileType file_type = FileType::kF32;  // general.file_type
  std::vector<int32_t> rope_sections;   // [4] rope.dimension_sections (mrope)
};

// Writes every metadata key of a model with hyperparameters `hp` (hp.arch selects the dense or
// MoE keys) and vocabulary `vocab`. Token ids from vocab.tokens.size() up to hp.n_vocab are
// written as unused "[PAD<id>]" tokens, the way llama.cpp's converter pads the embedding rows.
void write_model_metadata(gguf::GgufWriter& out, const HParams& hp, const VocabData& vocab,
                          const ModelMetadata& meta);

}  // namespace hearth::model
