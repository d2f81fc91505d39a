// Loader for the tokenizer.ggml.* keys of a GGUF file (llama.cpp layout), and from_file().
// Kept apart from the core so binaries that never read GGUF do not link the GGUF reader.
#include <cstdio>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace hearth::tokenizer {
namespace {

int32_t optional_id(const gguf::GgufFile& file, const char* key) {
  if (file.find(key) == nullptr) return -1;
  Result<int64_t> id = file.get_i64(key);
  return id.is_ok() && *id >= 0 && *id < INT32_MAX ? static_cast<int32_t>(*id) : -1;
}

}  // namespace

Result<Tokenizer> Tokenizer::from_gguf(const gguf::GgufFile& file,
                                       const TokenizerOptions& options) {
  HEARTH_ASSIGN_OR_RETURN(std::string model, file.get_string("tokenizer.ggml.model"));
  if (model != "gpt2") {
    return unsupported_error("tokenizer.ggml.model '" + model +
                             "' is not supported (only byte-level BPE, 'gpt2')");
  }
  VocabSpec spec;
  if (options.pre_type_override) {
    spec.pre_type = *options.pre_type_override;
  } else {
    HEARTH_ASSIGN_OR_RETURN(std::string pre, file.get_string("tokenizer.ggml.pre"));
    std::optional<PreType> type = pre_type_from_name(pre);
    if (!type) {
      return unsupported_error("tokenizer.ggml.pre '" + pre +
                               "' is not supported (qwen35 or qwen2)");
    }
    spec.pre_type = *type;
  }
  HEARTH_ASSIGN_OR_RETURN(spec.tokens, file.get_string_array("tokenizer.ggml.tokens"));
  if (file.find("tokenizer.ggml.token_type") != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(std::vector<int64_t> types,
                            file.get_int_array("tokenizer.ggml.token_type"));
    if (types.size() != spec.tokens.size()) {
      return corrupt_data_error(
          str_format("tokenizer.ggml.token_type has %zu entries but tokenizer.ggml.tokens has %zu",
                     types.size(), spec.tokens.size()));
    }
    spec.kinds.reserve(types.size());
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] < 0 || types[i] > 6) {
        return corrupt_data_error(
            str_format("tokenizer.ggml.token_type[%zu] = %lld is not a known token type", i,
                       static_cast<long long>(types[i])));
      }
      spec.kinds.push_back(static_cast<TokenKind>(types[i]));
    }
  }
  HEARTH_ASSIGN_OR_RETURN(spec.merges, file.get_string_array("tokenizer.ggml.merges"));
  spec.eos_id = optional_id(file, "tokenizer.ggml.eos_token_id");
  spec.pad_id = optional_id(file, "tokenizer.ggml.padding_token_id");
  spec.bos_id = optional_id(file, "tokenizer.ggml.bos_token_id");
  if (file.find("tokenizer.chat_template") != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(spec.chat_template, file.get_string("tokenizer.chat_template"));
  }
  // A GGUF cannot record the NFC normaliser; default to the HF behaviour (see TokenizerOptions).
  spec.normalize_nfc = true;
  return from_vocab(std::move(spec), options);
}

Result<Tokenizer> Tokenizer::from_file(const std::string& path, const TokenizerOptions& options) {
  char magic[4] = {0, 0, 0, 0};
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return not_found_error("cannot open tokenizer file '" + path + "'");
  const size_t got = std::fread(magic, 1, 4, f);
  std::fclose(f);
  if (got == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F') {
    HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::open(path));
    Result<Tokenizer> result = from_gguf(file, options);
    if (!result.is_ok()) return result.status().with_context(path);
    return result;
  }
  return from_hf_json(path, options);
}

}  // namespace hearth::tokenizer
