// StopMatcher tests: stop strings split at every position, overlaps, hold-back and flush.
#include <gtest/gtest.h>

#include "engine/stop_matcher.h"

namespace hearth::engine {
namespace {

std::string run_pieces(StopMatcher& m, const std::vector<std::string>& pieces, bool* stopped) {
  std::string out;
  for (const auto& p : pieces) {
    auto o = m.feed(p);
    out += o.text;
    if (o.stopped) {
      *stopped = true;
      return out;
    }
  }
  out += m.flush();
  return out;
}

TEST(StopMatcher, SplitAtEveryPosition) {
  const std::string text = "Hello world. STOP here and more";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      StopMatcher m({"STOP"});
      bool stopped = false;
      std::string out =
          run_pieces(m, {text.substr(0, i), text.substr(i, j - i), text.substr(j)}, &stopped);
      EXPECT_TRUE(stopped);
      EXPECT_EQ(out, "Hello world. ");
    }
  }
}

TEST(StopMatcher, ByteByByteHoldsBackOnlyPossiblePrefixes) {
  StopMatcher m({"</end>"});
  std::string emitted;
  for (char c : std::string("a</en")) emitted += m.feed(std::string(1, c)).text;
  EXPECT_EQ(emitted, "a");  // "</en" is held back
  emitted += m.feed("x").text;
  EXPECT_EQ(emitted, "a</enx");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, EarliestMatchWinsAndFlushReleasesTail) {
  StopMatcher m({"world", "lo w"});
  auto o = m.feed("hello world");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "hel");
  EXPECT_EQ(o.matched, "lo w");
  EXPECT_TRUE(m.feed("more").text.empty());

  StopMatcher n({"abc"});
  EXPECT_EQ(n.feed("xxab").text, "xx");
  EXPECT_EQ(n.flush(), "ab");
}

TEST(StopMatcher, OverlappingPrefix) {
  StopMatcher m({"aab"});
  bool stopped = false;
  std::string out = run_pieces(m, {"a", "a", "a", "b", "c"}, &stopped);
  EXPECT_TRUE(stopped);
  EXPECT_EQ(out, "a");
}

TEST(StopMatcher, NoStopsPassesEverything) {
  StopMatcher m({});
  EXPECT_EQ(m.feed("abc").text, "abc");
  StopMatcher e({""});
  EXPECT_EQ(e.feed("abc").text, "abc");
}

}  // namespace
}  // namespace hearth::engine
