// UTF-8 validation/repair, NFC (utf8proc) and the GPT-2 byte alphabet used by the tokenizer.
#include "tokenizer/unicode_text.h"

#include <utf8proc.h>

#include <cstdlib>
#include <optional>

#include "tokenizer/tokenizer.h"

namespace hearth::tokenizer {
namespace internal {
namespace {

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

ByteAlphabet build_alphabet() {
  ByteAlphabet a;
  a.byte_of.fill(-1);
  uint32_t next_extra = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : next_extra++;
    a.code_point[b] = cp;
    append_utf8(cp, &a.utf8[b]);
    a.byte_of[cp] = static_cast<int16_t>(b);
  }
  return a;
}

// Length of the sequence a lead byte starts (0 = never valid as a lead) and the allowed range of
// its second byte (Unicode Table 3-7: excludes overlongs, surrogates and > U+10FFFF).
struct LeadInfo {
  int length;
  uint8_t lo, hi;
};
inline LeadInfo lead_info(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

constexpr char kReplacement[] = "\xEF\xBF\xBD";

}  // namespace

const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet alphabet = build_alphabet();
  return alphabet;
}

std::string map_bytes(std::string_view raw) {
  const ByteAlphabet& a = byte_alphabet();
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) out += a.utf8[c];
  return out;
}

std::string unmap_bytes(std::string_view mapped) {
  const ByteAlphabet& a = byte_alphabet();
  std::string out;
  out.reserve(mapped.size());
  size_t i = 0;
  while (i < mapped.size()) {
    const uint8_t b = static_cast<uint8_t>(mapped[i]);
    const LeadInfo info = lead_info(b);
    size_t len = info.length == 0 ? 1 : static_cast<size_t>(info.length);
    if (i + len > mapped.size()) len = mapped.size() - i;
    uint32_t cp = 0x110000;
    if (len == 1 && b < 0x80) {
      cp = b;
    } else if (len == 2 && info.length == 2) {
      cp = ((b & 0x1Fu) << 6) | (static_cast<uint8_t>(mapped[i + 1]) & 0x3Fu);
    }
    if (cp < a.byte_of.size() && a.byte_of[cp] >= 0) {
      out.push_back(static_cast<char>(a.byte_of[cp]));
    } else {
      out.append(mapped.substr(i, len));
    }
    i += len;
  }
  return out;
}

size_t utf8_repair_append(std::string_view in, bool final, std::string* out) {
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = static_cast<uint8_t>(in[i]);
    if (b < 0x80) {
      // ASCII run.
      size_t j = i + 1;
      while (j < n && static_cast<uint8_t>(in[j]) < 0x80) ++j;
      out->append(in.substr(i, j - i));
      i = j;
      continue;
    }
    const LeadInfo info = lead_info(b);
    if (info.length == 0) {
      out->append(kReplacement);
      ++i;
      continue;
    }
    // Count how many bytes of the sequence are well-formed so far.
    size_t good = 1;
    while (good < static_cast<size_t>(info.length) && i + good < n) {
      const uint8_t c = static_cast<uint8_t>(in[i + good]);
      const uint8_t lo = good == 1 ? info.lo : 0x80;
      const uint8_t hi = good == 1 ? info.hi : 0xBF;
      if (c < lo || c > hi) break;
      ++good;
    }
    if (good == static_cast<size_t>(info.length)) {
      out->append(in.substr(i, good));
      i += good;
    } else if (i + good == n && !final) {
      return i;  // valid prefix cut by the end of the input: keep it for later
    } else {
      out->append(kReplacement);  // maximal ill-formed subpart
      i += good;
    }
  }
  return n;
}

bool nfc_trivially_stable(std::string_view text) {
  // Every code point below U+0300 is NFC_QC=Yes and none of them combines with a preceding
  // character; U+0300 is the first code point whose UTF-8 lead byte is 0xCC.
  for (unsigned char c : text) {
    if (c >= 0xCC) return false;
  }
  return true;
}

bool nfc_safe_boundary(uint32_t cp) {
  if (cp < 0x80) return true;  // ASCII: starters, never second in a composition pair
  // Hangul vowel and trailing jamo compose algorithmically with what precedes them (utf8proc
  // 2.8 also composes LV + U+11A7, which Unicode does not; defer to it there too).
  if ((cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A7 && cp <= 0x11C2)) return false;
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  if (p->combining_class != 0) return false;
  // Any part in a composition pair (first or second): be conservative.
  if (p->comb_index != UINT16_MAX) return false;
  // Canonical decomposition (precomposed letters, singletons, exclusions): conservative too.
  if (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0) return false;
  return true;
}

namespace {

// Decodes one code point of valid UTF-8 at `i`; returns its length.
inline size_t decode_cp(std::string_view text, size_t i, uint32_t* cp) {
  const uint8_t b = static_cast<uint8_t>(text[i]);
  if (b < 0x80) {
    *cp = b;
    return 1;
  }
  if (b < 0xE0) {
    *cp = ((b & 0x1Fu) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu);
    return 2;
  }
  if (b < 0xF0) {
    *cp = ((b & 0x0Fu) << 12) | ((static_cast<uint8_t>(text[i + 1]) & 0x3Fu) << 6) |
          (static_cast<uint8_t>(text[i + 2]) & 0x3Fu);
    return 3;
  }
  *cp = ((b & 0x07u) << 18) | ((static_cast<uint8_t>(text[i + 1]) & 0x3Fu) << 12) |
        ((static_cast<uint8_t>(text[i + 2]) & 0x3Fu) << 6) |
        (static_cast<uint8_t>(text[i + 3]) & 0x3Fu);
  return 4;
}

bool utf8proc_nfc_append(std::string_view text, std::string* out) {
  utf8proc_uint8_t* dst = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &dst,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0) return false;
  out->append(reinterpret_cast<const char*>(dst), static_cast<size_t>(len));
  std::free(dst);
  return true;
}

}  // namespace

bool nfc_if_needed(std::string_view text, std::string* out) {
  if (nfc_trivially_stable(text)) return false;
  // Find the first code point that is not a safe boundary.
  size_t i = 0, segment = 0;  // segment: byte offset of the last safe boundary
  uint32_t cp = 0;
  while (i < text.size()) {
    const size_t len = decode_cp(text, i, &cp);
    if (!nfc_safe_boundary(cp)) break;
    segment = i;
    i += len;
  }
  if (i >= text.size()) return false;
  out->clear();
  out->reserve(text.size() + 16);
  size_t copied = 0;  // text[0, copied) is in `out`
  bool dirty = true;  // [segment, i) holds an unsafe code point
  i += decode_cp(text, i, &cp);
  while (i < text.size()) {
    const size_t len = decode_cp(text, i, &cp);
    if (nfc_safe_boundary(cp)) {
      if (dirty) {
        out->append(text.substr(copied, segment - copied));
        if (!utf8proc_nfc_append(text.substr(segment, i - segment), out)) {
          out->append(text.substr(segment, i - segment));  // invalid input: leave it as is
        }
        copied = i;
        dirty = false;
      }
      segment = i;
    } else {
      dirty = true;
    }
    i += len;
  }
  if (dirty) {
    out->append(text.substr(copied, segment - copied));
    if (!utf8proc_nfc_append(text.substr(segment), out)) out->append(text.substr(segment));
  } else {
    out->append(text.substr(copied));
  }
  return true;
}

}  // namespace internal

std::optional<size_t> find_invalid_utf8(std::string_view text) {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    const internal::LeadInfo info = internal::lead_info(b);
    if (info.length == 0 || i + static_cast<size_t>(info.length) > n) return i;
    const uint8_t c1 = static_cast<uint8_t>(text[i + 1]);
    if (c1 < info.lo || c1 > info.hi) return i;
    for (int k = 2; k < info.length; ++k) {
      const uint8_t c = static_cast<uint8_t>(text[i + k]);
      if (c < 0x80 || c > 0xBF) return i;
    }
    i += static_cast<size_t>(info.length);
  }
  return std::nullopt;
}

std::string repair_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  internal::utf8_repair_append(bytes, /*final=*/true, &out);
  return out;
}

Result<std::string> nfc_normalize(std::string_view text) {
  if (find_invalid_utf8(text).has_value()) {
    return invalid_argument_error("NFC normalisation needs valid UTF-8");
  }
  std::string out;
  if (!internal::nfc_if_needed(text, &out)) return std::string(text);
  return out;
}

Result<std::string> nfc_normalize_reference(std::string_view text) {
  utf8proc_uint8_t* dst = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &dst,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0) {
    return invalid_argument_error(str_format("NFC normalisation failed: %s", utf8proc_errmsg(len)));
  }
  std::string out(reinterpret_cast<const char*>(dst), static_cast<size_t>(len));
  std::free(dst);
  return out;
}

}  // namespace hearth::tokenizer
