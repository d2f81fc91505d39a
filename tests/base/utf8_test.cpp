// base/utf8.h: the shared UTF-8 decoder/encoder and JSON string quoter (used by chat's JSON reader
// and writer and by the JSON-schema constraint). Kept here, next to its first users' tests, until
// it moves to tests/base.
#include "base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth {
namespace {

size_t decode(const std::string& bytes, uint32_t* cp) {
  return decode_utf8(bytes, 0, cp);
}

TEST(Utf8, DecodesEachLength) {
  uint32_t cp = 0;
  EXPECT_EQ(decode("A", &cp), 1u);
  EXPECT_EQ(cp, 0x41u);
  EXPECT_EQ(decode("\xC3\xA9", &cp), 2u);  // é
  EXPECT_EQ(cp, 0xE9u);
  EXPECT_EQ(decode("\xE2\x82\xAC", &cp), 3u);  // €
  EXPECT_EQ(cp, 0x20ACu);
  EXPECT_EQ(decode("\xF0\x9F\x98\x80", &cp), 4u);  // 😀
  EXPECT_EQ(cp, 0x1F600u);
  // Decoding starts at `pos` and stops after one code point.
  std::string two = "x\xC3\xA9y";
  EXPECT_EQ(decode_utf8(two, 1, &cp), 2u);
  EXPECT_EQ(cp, 0xE9u);
  EXPECT_EQ(decode_utf8(two, 3, &cp), 1u);
  EXPECT_EQ(cp, static_cast<uint32_t>('y'));
  EXPECT_EQ(decode_utf8(two, 4, &cp), 0u);  // past the end
}

TEST(Utf8, RejectsIllFormedSequences) {
  uint32_t cp = 0;
  for (const char* bad : {
           "\x80",              // stray continuation
           "\xC0\x80",          // overlong NUL
           "\xC1\xBF",          // overlong
           "\xE0\x80\x80",      // overlong 3-byte
           "\xE0\x9F\xBF",      // overlong 3-byte (just below U+0800)
           "\xED\xA0\x80",      // surrogate U+D800
           "\xED\xBF\xBF",      // surrogate U+DFFF
           "\xF0\x80\x80\x80",  // overlong 4-byte
           "\xF0\x8F\xBF\xBF",  // overlong 4-byte (just below U+10000)
           "\xF4\x90\x80\x80",  // U+110000
           "\xF5\x80\x80\x80",  // lead past F4
           "\xFF",              //
           "\xC3\x41",          // continuation missing
           "\xE2\x82\x41",      // second continuation missing
       }) {
    EXPECT_EQ(decode(bad, &cp), 0u) << "accepted " << ::testing::PrintToString(std::string(bad));
  }
  // Cut off by the end of the text (a token boundary inside a character).
  EXPECT_EQ(decode("\xE2\x82", &cp), 0u);
  EXPECT_EQ(decode("\xF0\x9F\x98", &cp), 0u);
  EXPECT_EQ(decode("\xC3", &cp), 0u);
  // The edges that are allowed.
  EXPECT_EQ(decode("\xED\x9F\xBF", &cp), 3u);
  EXPECT_EQ(cp, 0xD7FFu);
  EXPECT_EQ(decode("\xEE\x80\x80", &cp), 3u);
  EXPECT_EQ(cp, 0xE000u);
  EXPECT_EQ(decode("\xF4\x8F\xBF\xBF", &cp), 4u);
  EXPECT_EQ(cp, 0x10FFFFu);
}

TEST(Utf8, LeadBytesMatchTheDecoder) {
  for (int c = 0; c < 256; ++c) {
    Utf8Lead lead;
    const bool ok = utf8_lead(static_cast<uint8_t>(c), &lead);
    EXPECT_EQ(ok, c < 0x80 || (c >= 0xC2 && c <= 0xF4)) << c;
    if (!ok) continue;
    // A sequence is accepted exactly when its first continuation lies in [first_lo, first_hi].
    for (int b = 0x80; b <= 0xBF && lead.continuation > 0; ++b) {
      std::string seq(1, static_cast<char>(c));
      seq += static_cast<char>(b);
      seq.append(lead.continuation - 1, '\x80');
      uint32_t cp = 0;
      const bool decoded = decode(seq, &cp) == seq.size();
      EXPECT_EQ(decoded, b >= lead.first_lo && b <= lead.first_hi) << c << " " << b;
    }
  }
}

TEST(Utf8, EncodeDecodeRoundTripsEveryScalarValue) {
  std::string buf;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    buf.clear();
    append_utf8(cp, buf);
    const size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    ASSERT_EQ(buf.size(), want) << cp;
    uint32_t back = 0;
    ASSERT_EQ(decode(buf, &back), want) << cp;
    ASSERT_EQ(back, cp);
  }
}

TEST(Utf8, JsonQuotedEscapesLikePython) {
  std::string out;
  append_json_quoted("a\"b\\c\nd\re\tf\bg\fh", out);
  EXPECT_EQ(out, R"("a\"b\\c\nd\re\tf\bg\fh")");
  out.clear();
  append_json_quoted(std::string("\x01\x1f", 2) + "/\x7f" + "\xC3\xA9", out);
  EXPECT_EQ(out, "\"\\u0001\\u001f/\x7f\xC3\xA9\"");  // UTF-8 and '/' stay raw
  std::string prefixed(1, 'x');
  append_json_quoted("", prefixed);
  EXPECT_EQ(prefixed, "x\"\"");  // appends
}

}  // namespace
}  // namespace hearth
