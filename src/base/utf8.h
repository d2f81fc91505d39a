// UTF-8 text helpers the layers share (chat's JSON reader and writer, the JSON-schema automaton):
// one decoder, one encoder and one JSON string quoter. Well-formed means RFC 3629: no overlong
// forms, no surrogates, nothing past U+10FFFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hearth {

// What a lead byte says about its sequence: the continuation bytes that follow and the range the
// first of them must lie in (later ones are always 0x80..0xBF). The narrowed first range is what
// excludes overlongs (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
struct Utf8Lead {
  uint8_t continuation = 0;  // 0 for ASCII
  uint8_t first_lo = 0x80;
  uint8_t first_hi = 0xBF;
};

// False when `c` cannot start a well-formed sequence (a continuation byte, C0, C1, F5..FF).
inline bool utf8_lead(uint8_t c, Utf8Lead* lead) {
  *lead = Utf8Lead{};
  if (c < 0x80) return true;
  if (c >= 0xC2 && c <= 0xDF) {
    lead->continuation = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    lead->continuation = 2;
    if (c == 0xE0) lead->first_lo = 0xA0;
    if (c == 0xED) lead->first_hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    lead->continuation = 3;
    if (c == 0xF0) lead->first_lo = 0x90;
    if (c == 0xF4) lead->first_hi = 0x8F;
  } else {
    return false;
  }
  return true;
}

// Decodes the code point starting at text[pos] into *code_point. Returns its length in bytes, or 0
// when the bytes there are not well-formed UTF-8 or the sequence is cut off by the end of `text`.
inline size_t decode_utf8(std::string_view text, size_t pos, uint32_t* code_point) {
  if (pos >= text.size()) return 0;
  const uint8_t c = static_cast<uint8_t>(text[pos]);
  Utf8Lead lead;
  if (!utf8_lead(c, &lead)) return 0;
  if (lead.continuation == 0) {
    *code_point = c;
    return 1;
  }
  if (text.size() - pos <= lead.continuation) return 0;
  static constexpr uint8_t kLeadMask[4] = {0x7F, 0x1F, 0x0F, 0x07};
  uint32_t cp = c & kLeadMask[lead.continuation];
  uint8_t lo = lead.first_lo, hi = lead.first_hi;
  for (size_t k = 1; k <= lead.continuation; ++k) {
    const uint8_t b = static_cast<uint8_t>(text[pos + k]);
    if (b < lo || b > hi) return 0;
    cp = (cp << 6) | (b & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  *code_point = cp;
  return size_t{lead.continuation} + 1;
}

// Appends the UTF-8 form of `code_point` (<= U+10FFFF; a surrogate is encoded as is, so callers
// that take code points from untrusted input check for them first).
inline void append_utf8(uint32_t code_point, std::string& out) {
  const uint32_t cp = code_point;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Appends `raw` as a JSON string literal the way Python's json.dumps(ensure_ascii=False) writes it:
// '"', '\\' and control bytes escaped (\n \r \t \b \f, else \u00xx in lower-case hex),
// every other byte, UTF-8 included, copied as is.
inline void append_json_quoted(std::string_view raw, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

}  // namespace hearth
