// Engine tests on a tiny synthetic Qwen3.5: batched == alone (greedy tokens and logits), joins and
// leaves mid-run, seeded sampling, prefix reuse == recompute, stop tokens, limits, cancellation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <thread>

#include "base/thread_pool.h"
#include "engine/engine.h"
#include "engine/memory_estimate.h"
#include "gguf/gguf_writer.h"
#include "model/synthetic.h"

namespace hearth::engine {
namespace {

struct TinyModel {
  std::shared_ptr<const model::Model> model;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
};

const TinyModel& tiny(model::Arch arch = model::Arch::kQwen35) {
  static TinyModel dense, moe;
  TinyModel& m = arch == model::Arch::kQwen35 ? dense : moe;
  if (m.model) return m;
  model::SyntheticOptions opt;
  opt.arch = arch;
  opt.size = "tiny";
  opt.type = model::FileType::kF32;
  opt.seed = 7;
  auto vocab = model::make_synthetic_vocab();
  gguf::GgufWriter writer;
  ThreadPool pool(2);
  Status s = model::build_synthetic_model(opt, vocab, writer, pool);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  std::string path = "/tmp/hearth_engine_test_" + std::to_string(getpid()) +
                     (arch == model::Arch::kQwen35 ? "_dense.gguf" : "_moe.gguf");
  s = writer.write_file(path);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  auto loaded = model::Model::load(path);
  EXPECT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  unlink(path.c_str());  // the mapping stays valid
  m.model = std::shared_ptr<const model::Model>(std::move(loaded).value());
  auto tok = tokenizer::Tokenizer::from_gguf(m.model->file());
  EXPECT_TRUE(tok.is_ok()) << tok.status().to_string();
  m.tokenizer = std::make_shared<const tokenizer::Tokenizer>(std::move(tok).value());
  return m;
}

std::unique_ptr<Engine> make_engine(EngineOptions opt = {}, model::Arch arch = model::Arch::kQwen35) {
  const auto& m = tiny(arch);
  if (opt.n_threads == 0) opt.n_threads = 2;
  if (opt.context_length == 0) opt.context_length = 1024;
  auto e = Engine::create(m.model, m.tokenizer, opt);
  EXPECT_TRUE(e.is_ok()) << e.status().to_string();
  return std::move(e).value();
}

std::vector<int32_t> prompt_of(int n, int salt) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i) p.push_back(static_cast<int32_t>((i * 31 + salt * 17 + 3) % 250 + 1));
  return p;
}

struct Outcome {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;
  std::string text;
  FinishReason finish = FinishReason::kError;
  Usage usage;
  Status error;
};

Outcome collect(RequestHandle& h) {
  Outcome o;
  for (;;) {
    auto ev = h.next(std::chrono::seconds(120));
    if (!ev) {
      ADD_FAILURE() << "timed out waiting for an event";
      return o;
    }
    o.text += ev->text;
    if (ev->kind == Event::Kind::kToken) {
      o.tokens.push_back(ev->token);
      if (!ev->logits.empty()) o.logits.push_back(std::move(ev->logits));
    } else {
      o.finish = ev->finish;
      o.usage = ev->usage;
      o.error = ev->error;
      return o;
    }
  }
}

Request greedy(std::vector<int32_t> prompt, int max_tokens, bool logits = true) {
  Request r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.return_logits = logits;
  return r;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double scale = 1e-6, diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, static_cast<double>(std::fabs(a[i])));
    diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return diff / scale;
}

void expect_batched_equals_alone(model::Arch arch) {
  const int kSeqs = 8;
  const int lengths[kSeqs] = {1, 5, 17, 64, 65, 3, 130, 40};
  const int max_tokens[kSeqs] = {6, 4, 8, 5, 7, 3, 6, 8};
  std::vector<Outcome> alone(kSeqs);
  {
    EngineOptions opt;
    opt.max_sequences = 1;
    opt.prefix_cache_bytes = 0;
    auto e = make_engine(opt, arch);
    for (int i = 0; i < kSeqs; ++i) {
      auto h = e->submit(greedy(prompt_of(lengths[i], i), max_tokens[i]));
      ASSERT_TRUE(h.is_ok()) << h.status().to_string();
      alone[static_cast<size_t>(i)] = collect(**h);
    }
  }
  EngineOptions opt;
  opt.max_sequences = 8;
  opt.step_token_budget = 48;  // forces prompts to be split and mixed with decode steps
  opt.prefix_cache_bytes = 0;
  auto e = make_engine(opt, arch);
  std::vector<std::shared_ptr<RequestHandle>> handles;
  // Half now, half after the first ones produced a token: sequences join mid-run.
  for (int i = 0; i < kSeqs / 2; ++i) handles.push_back(*e->submit(greedy(prompt_of(lengths[i], i), max_tokens[i])));
  auto first = handles[0]->next(std::chrono::seconds(60));
  ASSERT_TRUE(first.has_value());
  for (int i = kSeqs / 2; i < kSeqs; ++i) handles.push_back(*e->submit(greedy(prompt_of(lengths[i], i), max_tokens[i])));
  for (int i = 0; i < kSeqs; ++i) {
    Outcome o = collect(*handles[static_cast<size_t>(i)]);
    if (i == 0) {
      o.tokens.insert(o.tokens.begin(), first->token);
      o.logits.insert(o.logits.begin(), first->logits);
    }
    const Outcome& ref = alone[static_cast<size_t>(i)];
    EXPECT_EQ(o.finish, FinishReason::kLength);
    EXPECT_EQ(o.tokens, ref.tokens) << "sequence " << i;
    ASSERT_EQ(o.logits.size(), ref.logits.size());
    for (size_t t = 0; t < o.logits.size(); ++t)
      EXPECT_LT(max_rel_diff(o.logits[t], ref.logits[t]), 1e-4) << "sequence " << i << " token " << t;
    EXPECT_EQ(o.usage.completion_tokens, max_tokens[i]);
    EXPECT_EQ(o.usage.prompt_tokens, lengths[i]);
  }
}

TEST(Engine, BatchedEqualsAloneDense) { expect_batched_equals_alone(model::Arch::kQwen35); }
TEST(Engine, BatchedEqualsAloneMoe) { expect_batched_equals_alone(model::Arch::kQwen35Moe); }

TEST(Engine, SeededSamplingIsReproducibleWhenBatched) {
  auto e = make_engine();
  Request r = greedy(prompt_of(20, 1), 12, false);
  r.sampling.temperature = 1.0f;
  r.sampling.top_k = 0;
  r.sampling.top_p = 1.0f;
  r.sampling.seed = 1234;
  Outcome solo = collect(**e->submit(r));
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (int i = 0; i < 4; ++i) hs.push_back(*e->submit(r));
  for (auto& h : hs) EXPECT_EQ(collect(*h).tokens, solo.tokens);
}

TEST(Engine, PrefixReuseEqualsRecompute) {
  EngineOptions opt;
  opt.checkpoint_interval = 32;
  auto e = make_engine(opt);
  std::vector<int32_t> turn1 = prompt_of(100, 5);
  Outcome o1 = collect(**e->submit(greedy(turn1, 6)));
  EXPECT_EQ(o1.usage.cached_tokens, 0);

  // Follow-up turn: previous prompt + its answer + new text.
  std::vector<int32_t> turn2 = turn1;
  turn2.insert(turn2.end(), o1.tokens.begin(), o1.tokens.end());
  for (int32_t t : prompt_of(20, 9)) turn2.push_back(t);
  auto before = e->stats();
  Outcome o2 = collect(**e->submit(greedy(turn2, 6)));
  auto after = e->stats();
  // The end-of-generation checkpoint holds turn1 + answer[:-1].
  EXPECT_EQ(o2.usage.cached_tokens, static_cast<int64_t>(turn1.size() + o1.tokens.size() - 1));
  EXPECT_EQ(after.prefill_tokens - before.prefill_tokens, turn2.size() - static_cast<size_t>(o2.usage.cached_tokens));
  EXPECT_EQ(after.prefix_hits, before.prefix_hits + 1);

  // A prompt sharing only the first 70 tokens resumes from the checkpoint at 64.
  std::vector<int32_t> branch(turn1.begin(), turn1.begin() + 70);
  branch.push_back(7);
  Outcome o3 = collect(**e->submit(greedy(branch, 5)));
  EXPECT_EQ(o3.usage.cached_tokens, 64);

  EngineOptions none;
  none.prefix_cache_bytes = 0;
  auto fresh = make_engine(none);
  Outcome r2 = collect(**fresh->submit(greedy(turn2, 6)));
  Outcome r3 = collect(**fresh->submit(greedy(branch, 5)));
  EXPECT_EQ(r2.usage.cached_tokens, 0);
  EXPECT_EQ(o2.tokens, r2.tokens);
  EXPECT_EQ(o3.tokens, r3.tokens);
  for (size_t t = 0; t < o2.logits.size(); ++t) EXPECT_LT(max_rel_diff(o2.logits[t], r2.logits[t]), 1e-4);
}

// Two requests resumed together from one checkpoint share its KV chunks (copy-on-write) and
// must still each produce exactly what recomputation gives.
TEST(Engine, TwoRequestsResumedFromOneCheckpointDivergeCorrectly) {
  EngineOptions opt;
  opt.checkpoint_interval = 64;
  opt.max_sequences = 2;
  auto e = make_engine(opt);
  const std::vector<int32_t> base = prompt_of(300, 3);  // ends inside the second KV chunk
  Outcome o0 = collect(**e->submit(greedy(base, 3)));
  ASSERT_EQ(o0.tokens.size(), 3u);
  std::vector<int32_t> pa = base, pb = base;
  for (int32_t t : prompt_of(9, 11)) pa.push_back(t);
  for (int32_t t : prompt_of(230, 12)) pb.push_back(t);  // b grows into a third chunk
  auto ha = *e->submit(greedy(pa, 6)), hb = *e->submit(greedy(pb, 6));
  Outcome oa = collect(*ha), ob = collect(*hb);
  EXPECT_EQ(oa.usage.cached_tokens, 300);
  EXPECT_EQ(ob.usage.cached_tokens, 300);
  // The checkpoint itself is still intact: a third resume gives the same answer as the first.
  Outcome oa2 = collect(**e->submit(greedy(pa, 6)));
  EXPECT_GE(oa2.usage.cached_tokens, 300);
  EXPECT_EQ(oa2.tokens, oa.tokens);

  EngineOptions none;
  none.prefix_cache_bytes = 0;
  auto fresh = make_engine(none);
  Outcome ra = collect(**fresh->submit(greedy(pa, 6))), rb = collect(**fresh->submit(greedy(pb, 6)));
  EXPECT_EQ(oa.tokens, ra.tokens);
  EXPECT_EQ(ob.tokens, rb.tokens);
  ASSERT_EQ(oa.logits.size(), ra.logits.size());
  ASSERT_EQ(ob.logits.size(), rb.logits.size());
  for (size_t t = 0; t < oa.logits.size(); ++t) EXPECT_LT(max_rel_diff(oa.logits[t], ra.logits[t]), 1e-4);
  for (size_t t = 0; t < ob.logits.size(); ++t) EXPECT_LT(max_rel_diff(ob.logits[t], rb.logits[t]), 1e-4);
  EXPECT_NE(oa.logits.back(), ob.logits.back());
  // Accounting: with nothing running, the live figure is zero and the cache stays in budget.
  for (int i = 0; i < 500 && e->stats().running != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto st = e->stats();
  EXPECT_EQ(st.state_bytes, 0u);
  EXPECT_GT(st.cache_bytes, 0u);
  EXPECT_LE(st.cache_bytes, opt.prefix_cache_bytes);
}

TEST(Engine, StopTokenAndMaxTokens) {
  auto e = make_engine();
  Outcome full = collect(**e->submit(greedy(prompt_of(10, 2), 8, false)));
  ASSERT_EQ(full.tokens.size(), 8u);
  EXPECT_EQ(full.finish, FinishReason::kLength);
  // Stop at the first occurrence of the 4th token.
  Request r = greedy(prompt_of(10, 2), 8, false);
  r.stop_tokens = {full.tokens[3]};
  Outcome stopped = collect(**e->submit(r));
  EXPECT_EQ(stopped.finish, FinishReason::kStop);
  size_t first = static_cast<size_t>(std::find(full.tokens.begin(), full.tokens.end(), full.tokens[3]) - full.tokens.begin());
  EXPECT_EQ(stopped.tokens.size(), first + 1);
}

TEST(Engine, StopStringEndsGenerationWithoutEmittingIt) {
  auto e = make_engine();
  Outcome full = collect(**e->submit(greedy(prompt_of(12, 4), 10, false)));
  ASSERT_GE(full.text.size(), 4u);
  // A stop string taken from the middle of the generated text.
  std::string stop = full.text.substr(full.text.size() / 2, 2);
  Request r = greedy(prompt_of(12, 4), 10, false);
  r.stop = {stop};
  Outcome o = collect(**e->submit(r));
  EXPECT_EQ(o.finish, FinishReason::kStop);
  EXPECT_EQ(o.text, full.text.substr(0, full.text.find(stop)));
}

TEST(Engine, ContextLimitsAreErrorsOrLength) {
  EngineOptions opt;
  opt.context_length = 64;
  auto e = make_engine(opt);
  auto too_long = e->submit(greedy(prompt_of(64, 1), 4));
  ASSERT_FALSE(too_long.is_ok());
  EXPECT_EQ(too_long.status().code(), ErrorCode::kOutOfRange);
  EXPECT_NE(too_long.status().message().find("64 tokens"), std::string::npos);
  EXPECT_NE(too_long.status().message().find("holds 64"), std::string::npos);
  // Fills the context: stops with length after exactly 64 - 60 tokens, never truncating the prompt.
  Outcome o = collect(**e->submit(greedy(prompt_of(60, 1), -1, false)));
  EXPECT_EQ(o.finish, FinishReason::kLength);
  EXPECT_EQ(o.tokens.size(), 4u);
  EXPECT_FALSE(e->submit(greedy({}, 4)).is_ok());
  EXPECT_FALSE(e->submit(greedy({1, 999999}, 4)).is_ok());
}

TEST(Engine, StateMemoryBudgetQueuesOrFails) {
  const auto& m = tiny();
  auto one = estimate_memory(m.model->hparams(), 1, 0, false, 30, 1, 0);
  EngineOptions opt;
  opt.state_memory_budget = (one.kv_cache + one.recurrent_state) * 3 / 2;  // room for one at a time
  auto e = make_engine(opt);
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (int i = 0; i < 3; ++i) hs.push_back(*e->submit(greedy(prompt_of(10, i), 20, false)));
  bool saw_waiting = false;
  for (int i = 0; i < 100 && !saw_waiting; ++i) {
    auto st = e->stats();
    saw_waiting = st.running == 1 && st.waiting >= 1;
    EXPECT_LE(st.state_reserved, opt.state_memory_budget);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(saw_waiting) << "the budget should hold the other requests back";
  for (auto& h : hs) EXPECT_EQ(collect(*h).finish, FinishReason::kLength);
  // A request that could never fit fails with a clear error instead of waiting forever.
  Outcome big = collect(**e->submit(greedy(prompt_of(10, 1), 900, false)));
  EXPECT_EQ(big.finish, FinishReason::kError);
  EXPECT_EQ(big.error.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(big.error.message().find("budget"), std::string::npos);
}

TEST(Engine, CancellationFreesState) {
  EngineOptions opt;
  opt.prefix_cache_bytes = 0;
  auto e = make_engine(opt);
  for (int i = 0; i < 1000; ++i) {
    auto h = e->submit(greedy(prompt_of(8 + i % 5, i), 1000, false));
    ASSERT_TRUE(h.is_ok());
    if (i % 2) std::this_thread::yield();
    (*h)->cancel();
    Outcome o = collect(**h);
    EXPECT_TRUE(o.finish == FinishReason::kCancelled || o.finish == FinishReason::kLength);
  }
  // The engine thread reaps the last sequence just after its final event.
  for (int i = 0; i < 500 && e->stats().running != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto s = e->stats();
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_EQ(s.state_bytes, 0u);
  EXPECT_EQ(s.requests_finished, 1000u);
  // A dropped handle counts as cancelled too.
  { auto h = e->submit(greedy(prompt_of(8, 1), 100000, false)); }
  for (int i = 0; i < 200 && e->stats().requests_finished < 1001; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(e->stats().requests_finished, 1001u);
}

}  // namespace
}  // namespace hearth::engine
