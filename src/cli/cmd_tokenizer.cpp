// Subcommands of the tokenizer family: `hearth tokenize` (text -> ids, optional throughput bench)
// and `hearth detokenize` (ids -> text).
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/timer.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;
  bool special = false;
  bool json = false;
  bool no_nfc = false;
  bool bench = false;
};

struct DetokenizeArgs {
  std::string model;
  std::string ids;
  bool skip_special = false;
  bool raw = false;
  bool no_nfc = false;
};

Result<tokenizer::Tokenizer> load(const std::string& model, bool no_nfc) {
  tokenizer::TokenizerOptions options;
  if (no_nfc) options.normalize_nfc = false;
  return tokenizer::Tokenizer::from_file(model, options);
}

Result<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found_error("cannot open '" + path + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return io_error("error reading '" + path + "'");
  return buffer.str();
}

void print_ids(const std::vector<int32_t>& ids, bool json) {
  std::string line = json ? "[" : "";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += json ? ", " : " ";
    line += std::to_string(ids[i]);
  }
  if (json) line += "]";
  std::printf("%s\n", line.c_str());
}

// Encodes the text repeatedly for ~2 s and reports single-thread throughput.
Status run_bench(const tokenizer::Tokenizer& tok, const std::string& text, bool special) {
  if (text.empty()) return invalid_argument_error("--bench needs non-empty text");
  HEARTH_ASSIGN_OR_RETURN(std::vector<int32_t> first,
                          tok.encode(text, special));  // warms the cache
  size_t rounds = 0;
  Stopwatch watch;
  const std::clock_t cpu_start = std::clock();
  do {
    HEARTH_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok.encode(text, special));
    ++rounds;
  } while (watch.elapsed_s() < 2.0);
  const double seconds = watch.elapsed_s();
  // CPU time as well: on a shared machine wall time overstates the cost.
  const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const double mb = static_cast<double>(text.size()) * static_cast<double>(rounds) / 1e6;
  std::printf(
      "%zu bytes -> %zu tokens (%.2f bytes/token); %zu rounds: %.1f MB/s wall, %.1f MB/s CPU, "
      "%.0f tokens/s wall (1 thread)\n",
      text.size(), first.size(),
      static_cast<double>(text.size()) / std::max<size_t>(1, first.size()), rounds, mb / seconds,
      mb / std::max(cpu_seconds, 1e-9), static_cast<double>(first.size() * rounds) / seconds);
  return Status::ok();
}

Status run_tokenize(const TokenizeArgs& args) {
  std::string text = args.text;
  if (!args.file.empty()) {
    HEARTH_ASSIGN_OR_RETURN(text, read_whole_file(args.file));
  }
  HEARTH_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, load(args.model, args.no_nfc));
  if (args.bench) return run_bench(tok, text, args.special);
  HEARTH_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok.encode(text, args.special));
  print_ids(ids, args.json);
  return Status::ok();
}

// Accepts ids separated by spaces, commas or newlines, optionally inside a JSON array.
Result<std::vector<int32_t>> parse_ids(const std::string& input, int32_t vocab_size) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < input.size()) {
    const char c = input[i];
    if (c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t' || c == '[' || c == ']') {
      ++i;
      continue;
    }
    size_t end = i;
    if (input[end] == '-') ++end;
    while (end < input.size() && input[end] >= '0' && input[end] <= '9') ++end;
    const std::string word = input.substr(i, end - i);
    if (word.empty() || word == "-" || word.size() > 10) {
      return invalid_argument_error(
          str_format("not a token id at offset %zu: '%s'", i, input.substr(i, 16).c_str()));
    }
    const long long value = std::stoll(word);
    if (value < 0 || value >= vocab_size) {
      return invalid_argument_error(
          str_format("token id %lld out of range [0, %d)", value, vocab_size));
    }
    ids.push_back(static_cast<int32_t>(value));
    i = end;
  }
  return ids;
}

Status run_detokenize(const DetokenizeArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, load(args.model, args.no_nfc));
  std::string input = args.ids;
  if (input.empty()) {
    std::ostringstream buffer;
    buffer << std::cin.rdbuf();
    input = buffer.str();
  }
  HEARTH_ASSIGN_OR_RETURN(std::vector<int32_t> ids, parse_ids(input, tok.vocab_size()));
  const std::string text =
      args.raw ? tok.decode(ids, args.skip_special) : tok.decode_text(ids, args.skip_special);
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!args.raw) std::fputc('\n', stdout);
  return Status::ok();
}

}  // namespace

void register_tokenizer_commands(CLI::App& app) {
  auto targs = std::make_shared<TokenizeArgs>();
  CLI::App* tokenize = app.add_subcommand("tokenize", "Print the token ids of a text");
  tokenize->add_option("--model,-m", targs->model, "GGUF model file or tokenizer.json")->required();
  CLI::Option* text_option = tokenize->add_option("--text,-t", targs->text, "Text to tokenize");
  CLI::Option* file_option =
      tokenize->add_option("--file,-f", targs->file, "Read the text from a file");
  text_option->excludes(file_option);
  tokenize->add_flag("--special", targs->special,
                     "Parse added/special tokens (<|im_start|>, <think>, ...) in the text");
  tokenize->add_flag("--json", targs->json, "Print a JSON array");
  tokenize->add_flag("--no-nfc", targs->no_nfc,
                     "Skip NFC normalisation (llama.cpp behaviour; default: NFC, as Hugging Face)");
  tokenize->add_flag("--bench", targs->bench, "Measure single-thread encode throughput (MB/s)");
  tokenize->callback([targs, text_option, file_option] {
    if (text_option->count() == 0 && file_option->count() == 0) {
      report_error(invalid_argument_error("tokenize needs --text or --file"));
      return;
    }
    Status status = run_tokenize(*targs);
    if (!status.is_ok()) report_error(status);
  });

  auto dargs = std::make_shared<DetokenizeArgs>();
  CLI::App* detokenize =
      app.add_subcommand("detokenize", "Print the text of token ids (from --ids or stdin)");
  detokenize->add_option("--model,-m", dargs->model, "GGUF model file or tokenizer.json")
      ->required();
  detokenize->add_option("--ids", dargs->ids, "Ids separated by spaces or commas (default: stdin)");
  detokenize->add_flag("--skip-special", dargs->skip_special, "Drop control tokens");
  detokenize->add_flag("--raw", dargs->raw,
                       "Write the raw bytes (may be invalid UTF-8) without a trailing newline");
  detokenize->add_flag("--no-nfc", dargs->no_nfc,
                       "Accepted for symmetry; decoding never normalises");
  detokenize->callback([dargs] {
    Status status = run_detokenize(*dargs);
    if (!status.is_ok()) report_error(status);
  });
}

}  // namespace hearth::cli
