// Memory estimate tests: the per-sequence recurrent state matches the figures llama.cpp logs for
// the published shapes (anchors §6.2), KV counts attention layers only, and the estimate agrees
// with what a real SequenceState allocates.
#include <gtest/gtest.h>

#include "engine/memory_estimate.h"
#include "model/state.h"
#include "model/synthetic.h"

namespace hearth::engine {
namespace {

model::HParams shape(model::Arch arch, const char* size, bool* tied) {
  auto hp = model::synthetic_hparams(arch, size, tied);
  EXPECT_TRUE(hp.is_ok()) << hp.status().to_string();
  hp->n_vocab = 248320;
  return *hp;
}

TEST(MemoryEstimate, RecurrentStateMatchesLoggedFigures) {
  bool tied = false;
  const double mib = 1024.0 * 1024.0;
  auto m9 = estimate_memory(shape(model::Arch::kQwen35, "9b", &tied), 0, 4.85, tied, 4096, 1);
  EXPECT_NEAR(static_cast<double>(m9.recurrent_state) / mib, 50.25, 0.01);  // llama.cpp: R 2.25 + S 48
  auto m27 = estimate_memory(shape(model::Arch::kQwen35, "27b", &tied), 0, 4.85, tied, 4096, 1);
  EXPECT_NEAR(static_cast<double>(m27.recurrent_state) / mib, 149.6, 0.1);
  auto moe = estimate_memory(shape(model::Arch::kQwen35Moe, "35b-a3b", &tied), 0, 4.85, tied, 4096, 1);
  EXPECT_NEAR(static_cast<double>(moe.recurrent_state) / mib, 62.8, 0.1);
}

TEST(MemoryEstimate, KvCountsAttentionLayersOnlyAndScales) {
  bool tied = false;
  auto hp = shape(model::Arch::kQwen35, "9b", &tied);
  auto a = estimate_memory(hp, 0, 4.85, tied, 32768, 1);
  // 8 attention layers x 2 (K, V) x 4 KV heads x 256 dims x 2 bytes = 32 KiB per token.
  EXPECT_EQ(a.kv_cache, 32768ULL * 32 * 1024);
  auto b = estimate_memory(hp, 0, 4.85, tied, 32768, 4);
  EXPECT_EQ(b.kv_cache, 4 * a.kv_cache);
  EXPECT_EQ(b.recurrent_state, 4 * a.recurrent_state);
  EXPECT_GT(a.weights, 4ULL << 30);  // ~9B params at 4.85 bpw
  EXPECT_LT(a.weights, 6ULL << 30);
}

TEST(MemoryEstimate, MoeReadsOnlyActiveExperts) {
  bool tied = false;
  auto hp = shape(model::Arch::kQwen35Moe, "35b-a3b", &tied);
  auto p = count_params(hp, tied);
  EXPECT_GT(p.total, 30'000'000'000ULL);
  EXPECT_LT(p.active, 4'000'000'000ULL);
}

TEST(MemoryEstimate, AgreesWithARealSequenceState) {
  bool tied = false;
  auto hp = shape(model::Arch::kQwen35, "tiny", &tied);
  model::SequenceState state(hp);
  const int64_t ctx = 4 * model::SequenceState::kKvChunkTokens;
  state.reserve_tokens(ctx);
  auto est = estimate_memory(hp, 0, 32, tied, ctx, 1);
  const double real = static_cast<double>(state.memory_bytes());
  const double predicted = static_cast<double>(est.kv_cache + est.recurrent_state);
  EXPECT_NEAR(predicted / real, 1.0, 0.02) << "predicted " << predicted << " real " << real;
}

TEST(MemoryEstimate, FormatBytes) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(5ULL << 30), "5.00 GiB");
}

}  // namespace
}  // namespace hearth::engine
