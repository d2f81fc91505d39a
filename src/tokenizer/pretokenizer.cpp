// PCRE2-backed pre-tokenizer split (JIT when available, interpreter otherwise).
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace hearth::tokenizer::internal {
namespace {

// Unicode White_Space (PropList.txt), which Oniguruma's \s follows in Unicode mode. U+200B and
// U+FEFF are not in it.
constexpr const char* kWhiteSpaceSet =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";

std::string pcre2_error_text(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return std::string(reinterpret_cast<const char*>(buffer));
}

// Per-thread scratch for matching: match data sized for the pattern, and a JIT stack big enough for
// long whitespace/letter runs.
struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  ~MatchScratch() {
    if (data) pcre2_match_data_free(data);
    if (context) pcre2_match_context_free(context);
    if (jit_stack) pcre2_jit_stack_free(jit_stack);
  }
};

}  // namespace

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() {
    if (code) pcre2_code_free(code);
  }
};

std::string rewrite_whitespace_classes(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      if (e == 's') {
        if (in_class) {
          out += kWhiteSpaceSet;
        } else {
          out += '[';
          out += kWhiteSpaceSet;
          out += ']';
        }
      } else if (e == 'S' && !in_class) {
        out += "[^";
        out += kWhiteSpaceSet;
        out += ']';
      } else {
        out += c;
        out += e;
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

Result<PreTokenizer> PreTokenizer::compile(const std::string& pattern) {
  const std::string rewritten = rewrite_whitespace_classes(pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    return invalid_argument_error(
        str_format("pre-tokenizer regex does not compile at offset %zu: %s",
                   static_cast<size_t>(error_offset), pcre2_error_text(error_code).c_str()));
  }
  auto compiled = std::make_shared<Compiled>();
  compiled->code = code;
  compiled->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  PreTokenizer result;
  result.compiled_ = std::move(compiled);
  result.pattern_ = pattern;
  return result;
}

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

Status PreTokenizer::next_match(std::string_view text, size_t pos, size_t* start,
                                size_t* end) const {
  if (compiled_ == nullptr) return internal_error("pre-tokenizer used before compile()");
  // Match data is independent of the pattern (ovector[0..1] is all we read; a pattern with more
  // groups than slots still reports the whole match), so one scratch per thread serves every
  // tokenizer.
  thread_local MatchScratch scratch;
  if (scratch.data == nullptr) {
    scratch.data = pcre2_match_data_create(8, nullptr);
    scratch.context = pcre2_match_context_create(nullptr);
    scratch.jit_stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (scratch.data == nullptr || scratch.context == nullptr) {
      return resource_exhausted_error("out of memory creating PCRE2 match data");
    }
    if (scratch.jit_stack) pcre2_jit_stack_assign(scratch.context, nullptr, scratch.jit_stack);
  }
  while (true) {
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    const int rc = compiled_->jit ? pcre2_jit_match(compiled_->code, subject, text.size(), pos, 0,
                                                    scratch.data, scratch.context)
                                  : pcre2_match(compiled_->code, subject, text.size(), pos,
                                                PCRE2_NO_UTF_CHECK, scratch.data, scratch.context);
    if (rc == PCRE2_ERROR_NOMATCH) {
      *start = *end = text.size();
      return Status::ok();
    }
    if (rc < 0) {
      return internal_error(str_format("pre-tokenizer regex match failed at byte %zu: %s", pos,
                                       pcre2_error_text(rc).c_str()));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.data);
    *start = ovector[0];
    *end = ovector[1];
    if (*end > *start) return Status::ok();
    // Empty match: retry one character further (the Qwen patterns never match empty).
    pos = *start + 1;
    while (pos < text.size() && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80) ++pos;
    if (pos >= text.size()) {
      *start = *end = text.size();
      return Status::ok();
    }
  }
}

}  // namespace hearth::tokenizer::internal
