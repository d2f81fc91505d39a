// Tokenizer: exact byte-level BPE (GPT-2 byte alphabet, merge ranks) as used by
// Qwen2/Qwen3/Qwen3.5, loaded from a GGUF (tokenizer.ggml.*) or a Hugging Face tokenizer.json. Owns
// the vocabulary, the merge table, added/special-token matching, the pre-tokenizer regex and NFC
// normalisation.
//
// Encode pipeline (matches HF `tokenizers`):
//   split out added tokens on the raw text (only when the caller allows special tokens)
//   -> NFC-normalise each remaining segment (default on; llama.cpp skips it, see
//      TokenizerOptions::normalize_nfc)
//   -> split with the pre-tokenizer regex (PCRE2, JIT, UTF + UCP)
//   -> byte-level map -> merge-rank BPE (with a piece cache) -> ids.
// No BOS/EOS is ever added.
//
// Thread safety: encode/decode are const and may run on many threads at once (the piece cache is
// internally locked). The set_* configuration calls are not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace hearth::gguf {
class GgufFile;
}

namespace hearth::tokenizer {

// Pre-tokenizer split regex family.
enum class PreType {
  kQwen35,  // Qwen3.5: letter runs include \p{M} (combining marks)
  kQwen2,   // Qwen2 / Qwen2.5 / Qwen3
  kCustom,  // regex taken verbatim from a tokenizer.json Split pre-tokenizer
};
const char* pre_type_name(PreType type);
// "qwen35" / "qwen2" (GGUF tokenizer.ggml.pre spelling); nullopt for anything else.
std::optional<PreType> pre_type_from_name(std::string_view name);
// The HF spelling of the regex of a known type (kCustom -> "").
const char* pre_type_regex(PreType type);

// Token kinds; numeric values equal llama.cpp's GGUF tokenizer.ggml.token_type values.
enum class TokenKind : uint8_t {
  kUndefined = 0,
  kNormal = 1,       // byte-level BPE token (stored in the mapped alphabet)
  kUnknown = 2,      // treated like an added token
  kControl = 3,      // special added token (<|im_end|>): literal text, skippable on decode
  kUserDefined = 4,  // non-special added token (<think>, <tool_call>): literal text
  kUnused = 5,       // padding row without a token (decodes to nothing)
  kByte = 6,         // SentencePiece "<0xAB>" byte token (decoded; never produced by encode)
};

struct TokenizerOptions {
  // Apply Unicode NFC to non-special text before splitting. Unset = the file decides: a
  // tokenizer.json follows its "normalizer" (NFC for every Qwen), a GGUF (which cannot record NFC)
  // gets NFC on, matching the HF tokenizer the model was trained with. llama.cpp never applies NFC;
  // pass false to reproduce its ids exactly (they differ only on non-NFC input, e.g. decomposed
  // accents).
  std::optional<bool> normalize_nfc;
  // Force a pre-tokenizer regex instead of the one the file names (tests, odd files).
  std::optional<PreType> pre_type_override;
};

// Raw vocabulary description, the common form both loaders produce. Public so tests and tools can
// build small tokenizers without a file.
struct VocabSpec {
  std::vector<std::string> tokens;  // [n_vocab] token text; kNormal in the byte-level alphabet
  std::vector<TokenKind> kinds;     // [n_vocab]
  std::vector<std::string> merges;  // [n_merges] "left right", rank = index
  PreType pre_type = PreType::kQwen35;
  std::string custom_regex;  // used when pre_type == kCustom
  int32_t eos_id = -1;       // from the file when present (GGUF eos_token_id)
  int32_t pad_id = -1;
  int32_t bos_id = -1;
  std::string chat_template;  // tokenizer.chat_template when present
  bool normalize_nfc = true;  // the file's normalizer (options.normalize_nfc overrides)
};

// Ids of the well-known Qwen control/added tokens; -1 where the vocabulary lacks one.
struct SpecialIds {
  int32_t endoftext = -1;          // <|endoftext|>
  int32_t im_start = -1;           // <|im_start|>
  int32_t im_end = -1;             // <|im_end|>
  int32_t think = -1;              // <think>
  int32_t think_end = -1;          // </think>
  int32_t tool_call = -1;          // <tool_call>
  int32_t tool_call_end = -1;      // </tool_call>
  int32_t tool_response = -1;      // <tool_response>
  int32_t tool_response_end = -1;  // </tool_response>
  int32_t vision_start = -1;       // <|vision_start|>
  int32_t vision_end = -1;         // <|vision_end|>
  int32_t image_pad = -1;          // <|image_pad|>
  int32_t video_pad = -1;          // <|video_pad|>
  int32_t eos = -1;                // the file's eos id (GGUF eos_token_id), else im_end
  int32_t pad = -1;                // the file's pad id, else endoftext
  int32_t bos = -1;                // only when the file names one; never added by encode
};

class Tokenizer {
 public:
  // Reads tokenizer.ggml.{model,pre,tokens,token_type,merges,eos_token_id,...}. model must be
  // "gpt2"; pre must be qwen35 or qwen2 (unless options.pre_type_override is set).
  static Result<Tokenizer> from_gguf(const gguf::GgufFile& file,
                                     const TokenizerOptions& options = {});
  // A path to tokenizer.json, or its content (detected by a leading '{'). model.type must be BPE
  // with a Split(regex) + ByteLevel pre-tokenizer; the normalizer must be NFC or absent.
  static Result<Tokenizer> from_hf_json(const std::string& path_or_content,
                                        const TokenizerOptions& options = {});
  // Builds from raw data; validates it (every byte has a token, merges resolve to tokens).
  static Result<Tokenizer> from_vocab(VocabSpec spec, const TokenizerOptions& options = {});
  // Loads either kind of file by content: GGUF magic, else tokenizer.json.
  static Result<Tokenizer> from_file(const std::string& path, const TokenizerOptions& options = {});

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Text -> ids. Rejects invalid UTF-8 with kInvalidArgument naming the byte offset (a server must
  // answer 400 on such input, never tokenize garbage). With parse_special, every added token
  // (control and user-defined, like HF) found in the text becomes its id; without it the text is
  // all plain text (a user typing "<|im_end|>" gets ordinary tokens).
  Result<std::vector<int32_t>> encode(std::string_view text, bool parse_special) const;
  // Same, appending to `out` (lets a caller build one prompt from pieces encoded with different
  // parse_special settings). On error `out` is left as it was.
  Status encode_into(std::string_view text, bool parse_special, std::vector<int32_t>* out) const;

  // Ids -> raw bytes (may be invalid UTF-8 when cut inside a character; use StreamDecoder or
  // decode_text for text). Ids out of range are skipped. skip_special drops control tokens.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;
  // decode() then UTF-8 repair: each ill-formed subsequence becomes U+FFFD (Python
  // errors="replace").
  std::string decode_text(std::span<const int32_t> ids, bool skip_special = false) const;
  // Raw bytes of one token ("" for an id out of range or an unused row).
  const std::string& token_to_piece(int32_t id) const;
  // Token text as stored in the vocabulary (mapped alphabet for normal tokens).
  const std::string& token_text(int32_t id) const;
  TokenKind token_kind(int32_t id) const;
  bool is_valid_id(int32_t id) const { return id >= 0 && id < vocab_size(); }
  bool is_control(int32_t id) const { return token_kind(id) == TokenKind::kControl; }
  // Exact vocabulary lookup by stored text (added tokens by their literal text).
  std::optional<int32_t> token_id(std::string_view text) const;

  int32_t vocab_size() const;  // number of rows (incl. padding rows of a GGUF)
  size_t n_merges() const;
  PreType pre_type() const;
  bool normalize_nfc() const;
  // Not thread-safe: configure before sharing the tokenizer between threads.
  void set_normalize_nfc(bool on);
  // Switches the pre-tokenizer regex (custom_regex for kCustom) and drops the piece cache. Same
  // thread-safety rule as set_normalize_nfc.
  Status set_pre_type(PreType type, const std::string& custom_regex = "");
  const SpecialIds& special_ids() const;
  // End-of-generation ids: <|im_end|>, <|endoftext|>, the file's eos, and (as llama.cpp)
  // <|fim_pad|>, <|repo_name|>, <|file_sep|> where present. Sorted, unique.
  const std::vector<int32_t>& eog_ids() const;
  bool is_eog(int32_t id) const;
  // Added tokens (control + user-defined) that encode(parse_special=true) recognises.
  std::vector<int32_t> added_token_ids() const;
  const std::string& chat_template() const;

  // Drops the piece cache (benchmarks measure the cold path with it).
  void clear_cache() const;

  // Pre-tokenizer pieces of `text` (after NFC when enabled), without added-token splitting.
  // For tests and debugging.
  Result<std::vector<std::string>> pre_tokenize(std::string_view text) const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  Status encode_valid(std::string_view text, bool parse_special, std::vector<int32_t>* ids) const;
  std::unique_ptr<Impl> impl_;
};

// Streaming-safe detokenizer: feed ids one at a time, get only complete, valid UTF-8 back. Bytes of
// a character split across tokens are held until it completes; ill-formed bytes become U+FFFD (one
// per maximal ill-formed subsequence, as Python's errors="replace"). Concatenating every feed() and
// the final flush() equals tokenizer.decode_text(all ids).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(&tokenizer), skip_special_(skip_special) {}
  std::string feed(int32_t id);
  // Raw bytes (not necessarily token aligned); same holding rules.
  std::string feed_bytes(std::string_view bytes);
  // Ends the stream: an incomplete tail becomes U+FFFD. The decoder can be reused afterwards.
  std::string flush();
  // Bytes currently held back (0..3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::string pending_;  // [0..3] bytes of an incomplete UTF-8 sequence
};

// UTF-8 helpers shared with the server and chat layers.
// Offset of the first ill-formed byte, or nullopt when `text` is valid UTF-8 (no surrogates,
// no overlongs, <= U+10FFFF).
std::optional<size_t> find_invalid_utf8(std::string_view text);
// Replaces each maximal ill-formed subsequence by U+FFFD.
std::string repair_utf8(std::string_view bytes);
// NFC (utf8proc, run only on the stretches that can change). Rejects invalid UTF-8.
Result<std::string> nfc_normalize(std::string_view text);
// NFC of the whole text through utf8proc directly (the reference the fast path is tested against).
Result<std::string> nfc_normalize_reference(std::string_view text);

}  // namespace hearth::tokenizer
