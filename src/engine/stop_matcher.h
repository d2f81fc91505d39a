// StopMatcher: finds stop strings in streamed text that arrives in arbitrary pieces (a stop
// string may span several tokens). Text that could still be the start of a stop string is held
// back; text of a matched stop string is never emitted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Output {
    std::string text;      // safe to emit now
    bool stopped = false;  // a stop string matched; nothing after it is emitted
    std::string matched;   // which one
  };

  // Adds a piece of generated text. After a stop, further input is ignored.
  Output feed(std::string_view piece);
  // End of generation: releases the held-back tail (no stop string can complete any more).
  std::string flush();

  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;  // held back: a suffix that is a prefix of some stop string
  bool stopped_ = false;
};

}  // namespace hearth::engine
