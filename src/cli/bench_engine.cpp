// Engine benchmarks: N concurrent greedy streams through one engine; prefix-reuse TTFT.
#include "cli/bench_engine.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/timer.h"
#include "engine/loaded_model.h"

namespace hearth::cli {
namespace {

std::vector<int32_t> bench_prompt(int64_t n, int salt, int64_t n_vocab) {
  std::vector<int32_t> p;
  uint64_t x = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(salt + 1);
  const int64_t range = std::min<int64_t>(n_vocab, 100000);
  for (int64_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p.push_back(static_cast<int32_t>(x % static_cast<uint64_t>(range)));
  }
  return p;
}

engine::Request greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
  engine::Request r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

// Runs `streams` requests at once; returns (tokens after each stream's first, decode seconds).
Result<std::pair<int64_t, double>> run_streams(engine::Engine& eng, int streams, int64_t n_gen) {
  std::vector<std::shared_ptr<engine::RequestHandle>> handles;
  for (int i = 0; i < streams; ++i) {
    auto h = eng.submit(greedy(bench_prompt(32, i, eng.model().n_vocab()), n_gen));
    if (!h.is_ok()) return h.status();
    handles.push_back(*h);
  }
  std::vector<std::vector<int64_t>> stamps(static_cast<size_t>(streams));  // [stream][token] ns
  std::vector<Status> errors(static_cast<size_t>(streams));
  std::vector<std::thread> readers;
  for (int i = 0; i < streams; ++i) {
    readers.emplace_back([&, i] {
      auto& h = *handles[static_cast<size_t>(i)];
      for (;;) {
        auto ev = h.next(std::chrono::minutes(10));
        if (!ev) return;
        if (ev->kind == engine::Event::Kind::kToken) {
          stamps[static_cast<size_t>(i)].push_back(now_ns());
        } else {
          if (ev->finish == engine::FinishReason::kError)
            errors[static_cast<size_t>(i)] = ev->error;
          return;
        }
      }
    });
  }
  for (auto& t : readers) t.join();
  for (const auto& e : errors)
    if (!e.is_ok()) return e;
  // Steady state: from the moment every stream has its first token to the last token; only
  // tokens inside that window count.
  int64_t start = 0, end = 0;
  for (const auto& st : stamps) {
    if (st.empty()) return internal_error("a stream produced no tokens");
    start = std::max(start, st.front());
    end = std::max(end, st.back());
  }
  int64_t tokens = 0;
  for (const auto& st : stamps)
    for (int64_t t : st) tokens += t > start ? 1 : 0;
  double seconds = static_cast<double>(end - start) * 1e-9;
  return std::make_pair(tokens, std::max(seconds, 1e-9));
}

}  // namespace

Result<ParallelBenchResult> bench_parallel(const std::string& model_path, int streams,
                                           int64_t n_gen, int threads) {
  if (streams < 1 || n_gen < 2)
    return invalid_argument_error("--parallel needs >= 1 stream and -n >= 2");
  ParallelBenchResult r;
  r.streams = streams;
  engine::EngineOptions opt;
  opt.n_threads = threads;
  opt.max_sequences = streams;
  opt.context_length = 4096;
  opt.prefix_cache_bytes = 0;
  HEARTH_ASSIGN_OR_RETURN(auto lm, engine::load_model(model_path, opt));
  HEARTH_ASSIGN_OR_RETURN(auto single, run_streams(*lm->engine, 1, n_gen));
  r.single_tok_s = static_cast<double>(single.first) / single.second;
  HEARTH_ASSIGN_OR_RETURN(auto multi, run_streams(*lm->engine, streams, n_gen));
  r.tokens = multi.first;
  r.decode_seconds = multi.second;
  r.aggregate_tok_s = static_cast<double>(multi.first) / multi.second;
  r.speedup = r.aggregate_tok_s / std::max(r.single_tok_s, 1e-9);
  return r;
}

Result<ReuseBenchResult> bench_prefix_reuse(const std::string& model_path, int64_t context_tokens,
                                            int threads) {
  ReuseBenchResult r;
  r.context_tokens = context_tokens;
  engine::EngineOptions opt;
  opt.n_threads = threads;
  opt.max_sequences = 1;
  opt.context_length = context_tokens + 1024;
  HEARTH_ASSIGN_OR_RETURN(auto lm, engine::load_model(model_path, opt));
  auto& eng = *lm->engine;
  std::vector<int32_t> turn1 = bench_prompt(context_tokens, 1, eng.model().n_vocab());
  std::vector<int32_t> turn2 = turn1;
  for (int32_t t : bench_prompt(64, 2, eng.model().n_vocab())) turn2.push_back(t);

  auto ttft = [&](engine::Engine& e, const std::vector<int32_t>& prompt,
                  int64_t* cached) -> Result<double> {
    Stopwatch sw;
    HEARTH_ASSIGN_OR_RETURN(auto h, e.submit(greedy(prompt, 1)));
    double first = -1;
    for (;;) {
      auto ev = h->next(std::chrono::minutes(30));
      if (!ev) return Status(ErrorCode::kUnavailable, "timed out");
      if (first < 0 && ev->kind == engine::Event::Kind::kToken) first = sw.elapsed_s();
      if (ev->kind == engine::Event::Kind::kFinished) {
        if (ev->finish == engine::FinishReason::kError) return ev->error;
        if (cached) *cached = ev->usage.cached_tokens;
        return first;
      }
    }
  };
  HEARTH_ASSIGN_OR_RETURN(double first_turn, ttft(eng, turn1, nullptr));
  (void)first_turn;
  // Checkpoints along the first turn share their KV chunks: the cache should hold about one copy
  // of the state plus a GDN state per checkpoint.
  const engine::EngineStats after_turn1 = eng.stats();
  r.cache_entries = after_turn1.cache_entries;
  r.cache_bytes = after_turn1.cache_bytes;
  {
    model::SequenceState one = eng.model().new_sequence();
    one.reserve_tokens(context_tokens);
    r.one_state_bytes = one.memory_bytes();
  }
  LOG_INFO(
      "prefix cache after a %lld-token turn: %zu checkpoints in %.1f MiB; one state at that "
      "length: %.1f MiB",
      static_cast<long long>(context_tokens), r.cache_entries,
      static_cast<double>(r.cache_bytes) / (1 << 20),
      static_cast<double>(r.one_state_bytes) / (1 << 20));
  HEARTH_ASSIGN_OR_RETURN(r.warm_ttft_s, ttft(eng, turn2, &r.cached_tokens));
  engine::EngineOptions cold_opt = opt;
  cold_opt.prefix_cache_bytes = 0;
  HEARTH_ASSIGN_OR_RETURN(auto cold_engine,
                          engine::Engine::create(lm->model, lm->tokenizer, cold_opt));
  HEARTH_ASSIGN_OR_RETURN(r.cold_ttft_s, ttft(*cold_engine, turn2, nullptr));
  return r;
}

}  // namespace hearth::cli
