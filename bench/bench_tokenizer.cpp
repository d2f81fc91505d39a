// Tokenizer throughput (Google Benchmark): encode/decode MB/s on ~1 MB of mixed English prose, C++
// code and CJK text, with the real Qwen3 vocabulary (same design and size class as Qwen3.5's).
// Run: build/bin/hearth_bench_tokenizer   (bytes_per_second = input text bytes per second)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using hearth::tokenizer::Tokenizer;

// Deterministic ~1 MB corpus: about half English, a quarter code, a quarter CJK (by bytes).
std::string make_mixed_text(size_t target_bytes) {
  static const char* kWords[] = {
      "the",          "of",          "and",    "to",        "in",        "is",       "that",
      "for",          "it",          "as",     "was",       "with",      "be",       "by",
      "on",           "not",         "he",     "this",      "are",       "or",       "his",
      "from",         "at",          "which",  "but",       "have",      "an",       "had",
      "they",         "you",         "were",   "their",     "one",       "all",      "we",
      "can",          "her",         "has",    "there",     "been",      "if",       "more",
      "when",         "will",        "would",  "who",       "so",        "no",       "model",
      "tokenizer",    "performance", "memory", "attention", "Gated",     "DeltaNet", "inference",
      "quantization", "hardware",    "server", "request",   "streaming", "don't",    "it's",
      "we're",        "2024",        "3.14"};
  static const char* kCode[] = {"for (int i = 0; i < n; ++i) {\n",
                                "  sum += a[i] * b[i];\n",
                                "}\n",
                                "if (status.is_ok()) return value;\n",
                                "def forward(self, x):\n    return self.proj(x)\n",
                                "#include <vector>\n",
                                "std::vector<float> out(n, 0.0f);\n",
                                "\tconst auto& row = rows[j];\n",
                                "// TODO: handle the empty case\n",
                                "x = torch.zeros((batch, seq_len, dim))\n",
                                "    print(f\"loss={loss:.4f}\")\n",
                                "return {\"id\": 42, \"ok\": true};\n"};
  static const char* kCjk =
      "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下"
      "过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都"
      "两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新"
      "线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通"
      "。，、？！日本語のテキストです한국어문장입니다";
  std::mt19937 rng(42);
  std::vector<std::string> cjk_chars;
  for (size_t i = 0; kCjk[i] != 0;) {
    const unsigned char c = static_cast<unsigned char>(kCjk[i]);
    const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    cjk_chars.emplace_back(kCjk + i, len);
    i += len;
  }
  std::string text;
  text.reserve(target_bytes + 256);
  while (text.size() < target_bytes) {
    const unsigned kind = rng() % 4;
    if (kind <= 1) {  // an English sentence
      const int n = 8 + static_cast<int>(rng() % 16);
      for (int w = 0; w < n; ++w) {
        std::string word = kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
        if (w == 0) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
        text += word;
        text += (w + 1 == n) ? ". " : (rng() % 10 == 0 ? ", " : " ");
      }
      if (rng() % 4 == 0) text += "\n\n";
    } else if (kind == 2) {  // a few lines of code
      const int n = 2 + static_cast<int>(rng() % 5);
      for (int l = 0; l < n; ++l) text += kCode[rng() % (sizeof(kCode) / sizeof(kCode[0]))];
    } else {  // a CJK sentence
      const int n = 10 + static_cast<int>(rng() % 30);
      for (int c = 0; c < n; ++c) text += cjk_chars[rng() % cjk_chars.size()];
      text += "\n";
    }
  }
  return text;
}

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

const std::string& corpus() {
  static const std::string text = make_mixed_text(1 << 20);
  return text;
}

// Steady state: the piece cache is warm (what a server sees after its first requests).
void BM_EncodeMixed1MB(benchmark::State& state) {
  const Tokenizer& t = qwen3();
  const std::string& text = corpus();
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = t.encode(text, /*parse_special=*/false);
    n_tokens = ids.value().size();
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(n_tokens),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EncodeMixed1MB)->Unit(benchmark::kMillisecond);

// Cold: the cache is dropped before every pass, so every distinct piece runs BPE once.
void BM_EncodeMixed1MBColdCache(benchmark::State& state) {
  const Tokenizer& t = qwen3();
  const std::string& text = corpus();
  for (auto _ : state) {
    state.PauseTiming();
    t.clear_cache();
    state.ResumeTiming();
    auto ids = t.encode(text, false);
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeMixed1MBColdCache)->Unit(benchmark::kMillisecond);

void BM_EncodeMixed1MBNoNfc(benchmark::State& state) {
  auto t = Tokenizer::from_hf_json(
      std::string(HEARTH_SHARED_DIR) + "/testdata/tokenizer/qwen3/tokenizer.json",
      {.normalize_nfc = false, .pre_type_override = std::nullopt});
  const std::string& text = corpus();
  for (auto _ : state) {
    auto ids = t->encode(text, false);
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeMixed1MBNoNfc)->Unit(benchmark::kMillisecond);

void BM_DecodeMixed1MB(benchmark::State& state) {
  const Tokenizer& t = qwen3();
  const auto ids = t.encode(corpus(), false).value();
  for (auto _ : state) {
    std::string text = t.decode_text(ids);
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
}
BENCHMARK(BM_DecodeMixed1MB)->Unit(benchmark::kMillisecond);

void BM_StreamDecodeMixed1MB(benchmark::State& state) {
  const Tokenizer& t = qwen3();
  const auto ids = t.encode(corpus(), false).value();
  for (auto _ : state) {
    hearth::tokenizer::StreamDecoder stream(t);
    size_t bytes = 0;
    for (int32_t id : ids) bytes += stream.feed(id).size();
    bytes += stream.flush().size();
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
}
BENCHMARK(BM_StreamDecodeMixed1MB)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
