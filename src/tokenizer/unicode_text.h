// Internal text helpers of the tokenizer: the GPT-2 byte <-> unicode alphabet, UTF-8 scanning with
// U+FFFD repair, and the NFC fast path. Not part of the public API (see tokenizer.h for that).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::tokenizer::internal {

// GPT-2 bytes_to_unicode: each byte's code point in the mapped alphabet, and its UTF-8 spelling.
struct ByteAlphabet {
  std::array<uint32_t, 256> code_point{};  // [byte] -> code point
  std::array<std::string, 256> utf8;       // [byte] -> UTF-8 of code_point
  std::array<int16_t, 0x144> byte_of{};    // [code point < 0x144] -> byte, or -1
};
const ByteAlphabet& byte_alphabet();

// Maps mapped-alphabet text back to bytes. Characters outside the alphabet are kept as their UTF-8
// (as the HF ByteLevel decoder does).
std::string unmap_bytes(std::string_view mapped);
// Maps raw bytes into the alphabet.
std::string map_bytes(std::string_view raw);

// Appends the well-formed part of `in` to `out`, replacing each maximal ill-formed subsequence with
// U+FFFD. When `final` is false, a trailing incomplete-but-valid prefix is not consumed. Returns
// the number of bytes consumed.
size_t utf8_repair_append(std::string_view in, bool final, std::string* out);

// True when NFC cannot change `text` (cheap scan: no code point >= U+0300).
bool nfc_trivially_stable(std::string_view text);

// True when a normalisation boundary may be placed before `cp` and NFC leaves `cp` itself alone:
// a starter (ccc 0) that never composes with what precedes it and has no canonical decomposition
// (a conservative form of ICU's hasCompBoundaryBefore). Exposed for tests.
bool nfc_safe_boundary(uint32_t cp);

// NFC of valid UTF-8 `text`, running utf8proc only on the stretches between safe boundaries that
// contain an unsafe code point. Returns false (and leaves `out` alone) when NFC would not change
// the text, so callers can skip the copy.
bool nfc_if_needed(std::string_view text, std::string* out);

}  // namespace hearth::tokenizer::internal
