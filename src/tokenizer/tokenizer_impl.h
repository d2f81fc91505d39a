// Tokenizer::Impl: the loaded vocabulary, merge table, added-token matcher and piece cache.
// Shared by the core (tokenizer.cpp) and the file loaders (tokenizer_hf.cpp, tokenizer_gguf.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace hearth::tokenizer {

// Hash for unordered_maps keyed by std::string that accept std::string_view lookups.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Tokenizer::Impl {
  std::vector<std::string> tokens;  // [n_vocab] stored text
  std::vector<TokenKind> kinds;     // [n_vocab]
  std::vector<std::string> pieces;  // [n_vocab] raw bytes each token decodes to
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>
      id_of_text;                       // stored text -> lowest id with it
  std::array<int32_t, 256> byte_ids{};  // [byte] id of the single-byte token
  internal::MergeTable merges;
  size_t n_merges = 0;

  PreType pre_type = PreType::kQwen35;
  internal::PreTokenizer pre;
  bool nfc = true;

  // Added tokens recognised by encode(parse_special=true), bucketed by first byte, longest first.
  struct Added {
    std::string text;
    int32_t id;
  };
  std::array<std::vector<Added>, 256> added_by_first_byte;
  std::vector<int32_t> added_ids;

  SpecialIds special;
  std::vector<int32_t> eog;
  std::string chat_template;

  // Piece cache: raw piece bytes -> ids. Bounded; cleared when full.
  mutable std::shared_mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache;

  Status encode_plain(std::string_view text, std::vector<int32_t>* out) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>* out) const;
};

}  // namespace hearth::tokenizer
