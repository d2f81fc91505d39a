// Structured output: time of one JsonSchemaConstraint::mask_logits step over the real Qwen3
// vocabulary (151,669 tokens, padded to Qwen3.5's 248,320 logit rows) in typical automaton states,
// and the one-off trie build.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sampling/json_schema_constraint.h"
#include "tokenizer/tokenizer.h"

namespace {

using hearth::sampling::JsonSchemaConstraint;
using hearth::sampling::JsonSchemaNode;
using hearth::sampling::TokenVocabulary;
using hearth::tokenizer::Tokenizer;
using hearth::tokenizer::TokenKind;

constexpr int32_t kLogitRows = 248320;

const Tokenizer& qwen3() {
  static Tokenizer* tokenizer = [] {
    auto t = Tokenizer::from_hf_json(std::string(HEARTH_SHARED_DIR) +
                                     "/testdata/tokenizer/qwen3/tokenizer.json");
    if (!t.is_ok()) {
      std::fprintf(stderr, "cannot load tokenizer: %s\n", t.status().to_string().c_str());
      std::exit(1);
    }
    return new Tokenizer(std::move(t).value());
  }();
  return *tokenizer;
}

std::pair<std::vector<std::string>, std::vector<bool>> token_table() {
  const Tokenizer& t = qwen3();
  std::vector<std::string> bytes(t.vocab_size());
  std::vector<bool> special(t.vocab_size());
  for (int32_t id = 0; id < t.vocab_size(); ++id) {
    auto kind = t.token_kind(id);
    special[id] = kind != TokenKind::kNormal && kind != TokenKind::kByte;
    if (!special[id]) bytes[id] = t.token_to_piece(id);
  }
  return {bytes, special};
}

std::shared_ptr<const TokenVocabulary> vocab() {
  static auto v = [] {
    auto [b, s] = token_table();
    return TokenVocabulary::build(std::move(b), std::move(s));
  }();
  return v;
}

std::shared_ptr<const JsonSchemaNode> person() {
  using Kind = JsonSchemaNode::Kind;
  auto str = std::make_shared<JsonSchemaNode>();
  str->kind = Kind::kString;
  str->max_length = 200;
  auto integer = std::make_shared<JsonSchemaNode>();
  integer->kind = Kind::kInteger;
  JsonSchemaNode obj;
  obj.kind = Kind::kObject;
  obj.properties = {{"name", str, true}, {"age", integer, true}, {"bio", str, false}};
  return hearth::sampling::compile_json_schema(obj).value();
}

void BM_TrieBuild(benchmark::State& state) {
  auto [b, s] = token_table();
  for (auto _ : state) {
    auto v = TokenVocabulary::build(b, s);
    benchmark::DoNotOptimize(v);
  }
  state.counters["trie_nodes"] = static_cast<double>(vocab()->trie().size());
}
BENCHMARK(BM_TrieBuild)->Unit(benchmark::kMillisecond);

// prefix: text already generated (fed token by token through the tokenizer's own ids).
void mask_after(benchmark::State& state, const std::string& prefix,
                std::shared_ptr<const JsonSchemaNode> schema) {
  auto v = vocab();
  JsonSchemaConstraint c(schema, v, qwen3().eog_ids());
  const std::vector<int32_t> ids = qwen3().encode(prefix, false).value();
  for (int32_t id : ids) c.accept(id);
  std::vector<float> logits(kLogitRows);
  size_t allowed = 0;
  for (auto _ : state) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    c.mask_logits(logits.data(), kLogitRows);
    benchmark::ClobberMemory();
  }
  for (float x : logits) allowed += x == 0.0f;
  state.counters["allowed"] = static_cast<double>(allowed);
}

void BM_MaskObjectStart(benchmark::State& s) {
  mask_after(s, "", person());
}
void BM_MaskKey(benchmark::State& s) {
  mask_after(s, "{\"name\":\"Al\",\"", person());
}
void BM_MaskInString(benchmark::State& s) {
  mask_after(s, "{\"name\":\"Al", person());
}
void BM_MaskInNumber(benchmark::State& s) {
  mask_after(s, "{\"name\":\"Al\",\"age\":4", person());
}
void BM_MaskJsonObjectString(benchmark::State& s) {
  mask_after(s, "{\"a\":[1,{\"b\":\"text", hearth::sampling::json_object_schema());
}
BENCHMARK(BM_MaskObjectStart)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskKey)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskInString)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskInNumber)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskJsonObjectString)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
