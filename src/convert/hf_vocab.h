// The vocabulary of a Hugging Face tokenizer.json (model.vocab, model.merges, added_tokens) as
// tokenizer.ggml.* data, with the special ids and chat template of the files beside it
// (tokenizer_config.json, chat_template.jinja). Used by `hearth convert` and by
// `hearth make-test-model --vocab tokenizer.json`.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "model/gguf_metadata.h"

namespace hearth::convert {

struct HfVocabOptions {
  int64_t n_vocab = 0;        // token rows; 0: the highest id + 1. Ids without a token are padding.
  int32_t bos_fallback = -1;  // config.json bos_token_id, used when tokenizer_config names none
  int32_t eos_fallback = -1;  // config.json eos_token_id, likewise
};

// Reads `tokenizer_json`. Special ids come from tokenizer_config.json (what llama.cpp's
// SpecialVocab reads), then the Qwen defaults (<|im_end|>, <|endoftext|>), then the fallbacks;
// the chat template from chat_template.jinja, else tokenizer_config.json's chat_template.
// pre is "qwen35".
Result<model::VocabData> read_hf_vocab(const std::string& tokenizer_json,
                                       const HfVocabOptions& options = {});

}  // namespace hearth::convert
