// Tokenizer core: building from a VocabSpec, encode (added tokens -> NFC -> regex split -> BPE),
// decode, special ids, and the streaming decoder.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <mutex>

#include "base/log.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode_text.h"

namespace hearth::tokenizer {
namespace {

constexpr const char* kQwen35Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kQwen2Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Pieces longer than this are not cached (they are rare and would bloat the cache).
constexpr size_t kMaxCachedPieceBytes = 64;
constexpr size_t kMaxCacheEntries = 1 << 16;

// GGUFs from older converters mark padding rows "[PAD123]" as USER_DEFINED; they are not real added
// tokens and must not be matched in user text.
bool is_padding_name(const std::string& text) {
  if (text.size() < 6 || text.compare(0, 4, "[PAD") != 0 || text.back() != ']') return false;
  for (size_t i = 4; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

// Decodes a SentencePiece-style byte token "<0x0A>"; -1 if it is not one.
int parse_byte_token(const std::string& text) {
  if (text.size() != 6 || text.compare(0, 3, "<0x") != 0 || text[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = text[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

const std::string& empty_string() {
  static const std::string empty;
  return empty;
}

}  // namespace

const char* pre_type_name(PreType type) {
  switch (type) {
    case PreType::kQwen35:
      return "qwen35";
    case PreType::kQwen2:
      return "qwen2";
    case PreType::kCustom:
      return "custom";
  }
  return "unknown";
}

std::optional<PreType> pre_type_from_name(std::string_view name) {
  if (name == "qwen35") return PreType::kQwen35;
  if (name == "qwen2") return PreType::kQwen2;
  return std::nullopt;
}

const char* pre_type_regex(PreType type) {
  switch (type) {
    case PreType::kQwen35:
      return kQwen35Regex;
    case PreType::kQwen2:
      return kQwen2Regex;
    case PreType::kCustom:
      return "";
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Construction

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::from_vocab(VocabSpec spec, const TokenizerOptions& options) {
  const size_t n_vocab = spec.tokens.size();
  if (n_vocab == 0) return invalid_argument_error("tokenizer vocabulary is empty");
  if (n_vocab > static_cast<size_t>(INT32_MAX)) {
    return invalid_argument_error(str_format("tokenizer vocabulary too large (%zu)", n_vocab));
  }
  if (spec.kinds.empty()) spec.kinds.assign(n_vocab, TokenKind::kNormal);
  if (spec.kinds.size() != n_vocab) {
    return invalid_argument_error(
        str_format("tokenizer has %zu tokens but %zu token types", n_vocab, spec.kinds.size()));
  }
  auto impl = std::make_unique<Impl>();
  impl->tokens = std::move(spec.tokens);
  impl->kinds = std::move(spec.kinds);
  impl->chat_template = std::move(spec.chat_template);
  impl->nfc = options.normalize_nfc.value_or(spec.normalize_nfc);

  // Pre-tokenizer.
  impl->pre_type = options.pre_type_override.value_or(spec.pre_type);
  const std::string pattern =
      impl->pre_type == PreType::kCustom ? spec.custom_regex : pre_type_regex(impl->pre_type);
  if (pattern.empty()) return invalid_argument_error("tokenizer has no pre-tokenizer regex");
  HEARTH_ASSIGN_OR_RETURN(impl->pre, internal::PreTokenizer::compile(pattern));

  // Token text index and decoded pieces.
  impl->id_of_text.reserve(n_vocab * 2);
  impl->pieces.resize(n_vocab);
  for (size_t id = 0; id < n_vocab; ++id) {
    const std::string& text = impl->tokens[id];
    impl->id_of_text.emplace(text, static_cast<int32_t>(id));
    switch (impl->kinds[id]) {
      case TokenKind::kNormal:
      case TokenKind::kUndefined:
        impl->pieces[id] = internal::unmap_bytes(text);
        break;
      case TokenKind::kByte: {
        const int b = parse_byte_token(text);
        impl->pieces[id] = b >= 0 ? std::string(1, static_cast<char>(b)) : text;
        break;
      }
      case TokenKind::kUnused:
        break;
      case TokenKind::kControl:
      case TokenKind::kUserDefined:
      case TokenKind::kUnknown:
        impl->pieces[id] = text;
        break;
    }
  }

  // Single-byte tokens: BPE starts from these, so all 256 must exist.
  const internal::ByteAlphabet& alphabet = internal::byte_alphabet();
  for (int b = 0; b < 256; ++b) {
    auto it = impl->id_of_text.find(alphabet.utf8[b]);
    if (it == impl->id_of_text.end() || impl->kinds[it->second] != TokenKind::kNormal) {
      return invalid_argument_error(str_format(
          "tokenizer vocabulary lacks the byte-level token for byte 0x%02X ('%s'); only byte-level "
          "BPE vocabularies are supported",
          b, alphabet.utf8[b].c_str()));
    }
    impl->byte_ids[b] = it->second;
  }

  // Merges: "left right" split at the first space after the first character (a byte-level part
  // never contains a literal space).
  impl->merges.reserve(spec.merges.size());
  size_t skipped = 0;
  std::string joined;
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const std::string& line = spec.merges[rank];
    const size_t space = line.size() > 1 ? line.find(' ', 1) : std::string::npos;
    if (space == std::string::npos) {
      return invalid_argument_error(str_format(
          "tokenizer merge %zu ('%s') is not of the form 'left right'", rank, line.c_str()));
    }
    const std::string_view left(line.data(), space);
    const std::string_view right(line.data() + space + 1, line.size() - space - 1);
    joined.assign(left);
    joined.append(right);
    auto l = impl->id_of_text.find(left);
    auto r = impl->id_of_text.find(right);
    auto m = impl->id_of_text.find(joined);
    if (l == impl->id_of_text.end() || r == impl->id_of_text.end() || m == impl->id_of_text.end()) {
      ++skipped;
      continue;
    }
    if (!impl->merges.insert(l->second, r->second, static_cast<int32_t>(rank), m->second)) {
      ++skipped;  // duplicate pair: the earlier rank wins
    }
  }
  impl->n_merges = impl->merges.size();
  if (skipped > 0) {
    LOG_WARN(
        "tokenizer: %zu of %zu merges skipped (parts or result not in the vocabulary, or "
        "duplicates)",
        skipped, spec.merges.size());
  }

  // Added tokens.
  for (size_t id = 0; id < n_vocab; ++id) {
    const TokenKind kind = impl->kinds[id];
    const std::string& text = impl->tokens[id];
    if (text.empty()) continue;
    if (kind != TokenKind::kControl && kind != TokenKind::kUserDefined &&
        kind != TokenKind::kUnknown) {
      continue;
    }
    if (kind == TokenKind::kUserDefined && is_padding_name(text)) continue;
    impl->added_by_first_byte[static_cast<uint8_t>(text[0])].push_back(
        Impl::Added{text, static_cast<int32_t>(id)});
    impl->added_ids.push_back(static_cast<int32_t>(id));
  }
  for (auto& bucket : impl->added_by_first_byte) {
    std::stable_sort(bucket.begin(), bucket.end(), [](const Impl::Added& a, const Impl::Added& b) {
      return a.text.size() > b.text.size();
    });
  }

  // Well-known ids by literal text.
  auto find_added = [&](const char* text) -> int32_t {
    auto it = impl->id_of_text.find(text);
    return it == impl->id_of_text.end() ? -1 : it->second;
  };
  SpecialIds& sp = impl->special;
  sp.endoftext = find_added("<|endoftext|>");
  sp.im_start = find_added("<|im_start|>");
  sp.im_end = find_added("<|im_end|>");
  sp.think = find_added("<think>");
  sp.think_end = find_added("</think>");
  sp.tool_call = find_added("<tool_call>");
  sp.tool_call_end = find_added("</tool_call>");
  sp.tool_response = find_added("<tool_response>");
  sp.tool_response_end = find_added("</tool_response>");
  sp.vision_start = find_added("<|vision_start|>");
  sp.vision_end = find_added("<|vision_end|>");
  sp.image_pad = find_added("<|image_pad|>");
  sp.video_pad = find_added("<|video_pad|>");
  auto in_range = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n_vocab; };
  sp.eos = in_range(spec.eos_id) ? spec.eos_id : sp.im_end;
  sp.pad = in_range(spec.pad_id) ? spec.pad_id : sp.endoftext;
  sp.bos = in_range(spec.bos_id) ? spec.bos_id : -1;

  for (int32_t id : {sp.im_end, sp.endoftext, sp.eos, find_added("<|fim_pad|>"),
                     find_added("<|repo_name|>"), find_added("<|file_sep|>")}) {
    if (id >= 0) impl->eog.push_back(id);
  }
  std::sort(impl->eog.begin(), impl->eog.end());
  impl->eog.erase(std::unique(impl->eog.begin(), impl->eog.end()), impl->eog.end());

  return Tokenizer(std::move(impl));
}

// ---------------------------------------------------------------------------------------------
// Encode

void Tokenizer::Impl::encode_piece(std::string_view piece, std::vector<int32_t>* out) const {
  if (piece.size() == 1) {
    out->push_back(byte_ids[static_cast<uint8_t>(piece[0])]);
    return;
  }
  const bool cacheable = piece.size() <= kMaxCachedPieceBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex);
    auto it = cache.find(piece);
    if (it != cache.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  thread_local std::vector<int32_t> symbols;  // [piece bytes] ids during merging
  symbols.clear();
  for (unsigned char c : piece) symbols.push_back(byte_ids[c]);
  internal::bpe_merge(merges, &symbols);
  out->insert(out->end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::unique_lock lock(cache_mutex);
    if (cache.size() >= kMaxCacheEntries) cache.clear();
    cache.emplace(std::string(piece), symbols);
  }
}

Status Tokenizer::Impl::encode_plain(std::string_view text, std::vector<int32_t>* out) const {
  if (text.empty()) return Status::ok();
  std::string normalized;
  if (nfc && internal::nfc_if_needed(text, &normalized)) text = normalized;
  return pre.split(text, [&](std::string_view piece) { encode_piece(piece, out); });
}

Result<std::vector<int32_t>> Tokenizer::encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  HEARTH_RETURN_IF_ERROR(encode_into(text, parse_special, &ids));
  return ids;
}

Status Tokenizer::encode_into(std::string_view text, bool parse_special,
                              std::vector<int32_t>* out) const {
  if (auto bad = find_invalid_utf8(text)) {
    return invalid_argument_error(
        str_format("text is not valid UTF-8 (ill-formed byte 0x%02X at offset %zu)",
                   static_cast<unsigned>(static_cast<uint8_t>(text[*bad])), *bad));
  }
  const size_t original_size = out->size();
  Status status = encode_valid(text, parse_special, out);
  if (!status.is_ok()) out->resize(original_size);
  return status;
}

Status Tokenizer::encode_valid(std::string_view text, bool parse_special,
                               std::vector<int32_t>* ids) const {
  if (!parse_special || impl_->added_ids.empty()) return impl_->encode_plain(text, ids);
  // Leftmost added-token match, longest first among those starting at the same byte.
  size_t segment_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    const auto& bucket = impl_->added_by_first_byte[static_cast<uint8_t>(text[i])];
    const Impl::Added* match = nullptr;
    for (const Impl::Added& added : bucket) {
      if (text.compare(i, added.text.size(), added.text) == 0) {
        match = &added;
        break;
      }
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    HEARTH_RETURN_IF_ERROR(impl_->encode_plain(text.substr(segment_start, i - segment_start), ids));
    ids->push_back(match->id);
    i += match->text.size();
    segment_start = i;
  }
  return impl_->encode_plain(text.substr(segment_start), ids);
}

Result<std::vector<std::string>> Tokenizer::pre_tokenize(std::string_view text) const {
  if (auto bad = find_invalid_utf8(text)) {
    return invalid_argument_error(str_format("text is not valid UTF-8 (offset %zu)", *bad));
  }
  std::string normalized;
  if (impl_->nfc) {
    HEARTH_ASSIGN_OR_RETURN(normalized, nfc_normalize(text));
    text = normalized;
  }
  std::vector<std::string> pieces;
  HEARTH_RETURN_IF_ERROR(
      impl_->pre.split(text, [&](std::string_view piece) { pieces.emplace_back(piece); }));
  return pieces;
}

// ---------------------------------------------------------------------------------------------
// Decode and accessors

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    if (!is_valid_id(id)) continue;
    if (skip_special && impl_->kinds[id] == TokenKind::kControl) continue;
    out += impl_->pieces[id];
  }
  return out;
}

std::string Tokenizer::decode_text(std::span<const int32_t> ids, bool skip_special) const {
  return repair_utf8(decode(ids, skip_special));
}

const std::string& Tokenizer::token_to_piece(int32_t id) const {
  return is_valid_id(id) ? impl_->pieces[id] : empty_string();
}

const std::string& Tokenizer::token_text(int32_t id) const {
  return is_valid_id(id) ? impl_->tokens[id] : empty_string();
}

TokenKind Tokenizer::token_kind(int32_t id) const {
  return is_valid_id(id) ? impl_->kinds[id] : TokenKind::kUndefined;
}

std::optional<int32_t> Tokenizer::token_id(std::string_view text) const {
  auto it = impl_->id_of_text.find(text);
  if (it == impl_->id_of_text.end()) return std::nullopt;
  return it->second;
}

int32_t Tokenizer::vocab_size() const {
  return static_cast<int32_t>(impl_->tokens.size());
}
size_t Tokenizer::n_merges() const {
  return impl_->n_merges;
}
PreType Tokenizer::pre_type() const {
  return impl_->pre_type;
}
bool Tokenizer::normalize_nfc() const {
  return impl_->nfc;
}
void Tokenizer::set_normalize_nfc(bool on) {
  impl_->nfc = on;
}
Status Tokenizer::set_pre_type(PreType type, const std::string& custom_regex) {
  const std::string pattern = type == PreType::kCustom ? custom_regex : pre_type_regex(type);
  if (pattern.empty()) return invalid_argument_error("empty pre-tokenizer regex");
  HEARTH_ASSIGN_OR_RETURN(impl_->pre, internal::PreTokenizer::compile(pattern));
  impl_->pre_type = type;
  clear_cache();
  return Status::ok();
}
const SpecialIds& Tokenizer::special_ids() const {
  return impl_->special;
}
const std::vector<int32_t>& Tokenizer::eog_ids() const {
  return impl_->eog;
}
bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(impl_->eog.begin(), impl_->eog.end(), id);
}
std::vector<int32_t> Tokenizer::added_token_ids() const {
  return impl_->added_ids;
}
const std::string& Tokenizer::chat_template() const {
  return impl_->chat_template;
}
void Tokenizer::clear_cache() const {
  std::unique_lock lock(impl_->cache_mutex);
  impl_->cache.clear();
}

// ---------------------------------------------------------------------------------------------
// StreamDecoder

std::string StreamDecoder::feed(int32_t id) {
  if (skip_special_ && tokenizer_->is_control(id)) return std::string();
  return feed_bytes(tokenizer_->token_to_piece(id));
}

std::string StreamDecoder::feed_bytes(std::string_view bytes) {
  std::string out;
  if (pending_.empty()) {
    const size_t used = internal::utf8_repair_append(bytes, /*final=*/false, &out);
    pending_.assign(bytes.substr(used));
    return out;
  }
  std::string joined = pending_;
  joined.append(bytes);
  const size_t used = internal::utf8_repair_append(joined, /*final=*/false, &out);
  pending_ = joined.substr(used);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  internal::utf8_repair_append(pending_, /*final=*/true, &out);
  pending_.clear();
  return out;
}

}  // namespace hearth::tokenizer
