// PreTokenizer: splits normalised text into pieces with a Split(regex, Isolated) rule, using PCRE2
// (UTF + UCP, JIT-compiled). Internal to the tokenizer library.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace hearth::tokenizer::internal {

class PreTokenizer {
 public:
  // `pattern` in HF/Oniguruma syntax. \s and \S are rewritten to the Unicode White_Space set so the
  // result does not depend on PCRE2's idea of \s (which differs on U+0085 across versions).
  static Result<PreTokenizer> compile(const std::string& pattern);
  PreTokenizer() = default;  // empty: split() fails until a compiled one is assigned

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Calls sink(piece) for every piece of `text` in order; text between matches (cannot happen with
  // the Qwen patterns) becomes its own piece. `text` must be valid UTF-8.
  template <typename Sink>
  Status split(std::string_view text, Sink&& sink) const {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t start = 0, end = 0;
      HEARTH_RETURN_IF_ERROR(next_match(text, pos, &start, &end));
      if (start > pos) sink(text.substr(pos, start - pos));
      if (end > start) sink(text.substr(start, end - start));
      pos = end;
    }
    return Status::ok();
  }

  const std::string& pattern() const { return pattern_; }

 private:
  // Next match at or after pos; start = end = text.size() when none. Empty matches are skipped.
  Status next_match(std::string_view text, size_t pos, size_t* start, size_t* end) const;

  struct Compiled;
  std::shared_ptr<const Compiled> compiled_;
  std::string pattern_;
};

// Exposed for tests.
std::string rewrite_whitespace_classes(const std::string& pattern);

}  // namespace hearth::tokenizer::internal
