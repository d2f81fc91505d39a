// Unit tests of src/model on tiny synthetic models: float64 reference vs real forward (dense and
// MoE), prefill vs decode, chunked vs recurrent delta rule, batching, quantised vs f32,
// snapshot/restore, and loader errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "kernels/rows16.h"
#include "model/blocks/gated_deltanet.h"
#include "model/blocks/moe.h"
#include "model_test_util.h"

namespace hearth::model {
namespace {

using testing::load_bytes;
using testing::make_tiny;
using testing::max_rel_error;
using testing::random_tokens;
using testing::reference_logits;
using testing::rewrite;
using testing::run_decode;
using testing::run_prefill;
using testing::synthetic_bytes;

TEST(ModelHParams, TinyDenseMatchesGenerator) {
  auto tm = make_tiny(Arch::kQwen35);
  ASSERT_TRUE(tm.model);
  const HParams& hp = tm.model->hparams();
  bool tied = false;
  auto want = synthetic_hparams(Arch::kQwen35, "tiny", &tied);
  ASSERT_TRUE(want.is_ok());
  EXPECT_EQ(hp.arch, Arch::kQwen35);
  EXPECT_EQ(hp.n_layer, want->n_layer);
  EXPECT_EQ(hp.n_embd, want->n_embd);
  EXPECT_EQ(hp.head_dim, want->head_dim);
  EXPECT_EQ(hp.ssm_v_heads, want->ssm_v_heads);
  EXPECT_GT(hp.ssm_v_heads, hp.ssm_k_heads);
  EXPECT_EQ(hp.ssm_v_dim, want->ssm_v_dim);
  EXPECT_EQ(hp.n_ff, want->n_ff);
  EXPECT_EQ(hp.n_vocab, static_cast<int64_t>(make_synthetic_vocab().tokens.size()));
  ASSERT_EQ(hp.is_recurrent.size(), 5u);
  EXPECT_EQ(hp.is_recurrent, (std::vector<bool>{true, true, true, false, true}));
  EXPECT_TRUE(tied);
  EXPECT_TRUE(tm.model->weights().tied_output);
}

TEST(ModelHParams, ExplicitRecurrentLayersOverrideInterval) {
  auto bytes = synthetic_bytes(Arch::kQwen35, FileType::kF32, 1);
  // Layer 1 becomes full attention: binding must then ask for attn_q and fail naming it.
  auto edited = rewrite(
      bytes,
      [](gguf::GgufWriter& w) {
        w.set_i32_array("qwen35.attention.recurrent_layers", {1, 0, 1, 0, 1});
      },
      nullptr);
  auto file = gguf::GgufFile::from_memory(edited.data(), edited.size());
  ASSERT_TRUE(file.is_ok());
  auto hp = read_hparams(*file);
  ASSERT_TRUE(hp.is_ok()) << hp.status().to_string();
  EXPECT_EQ(hp->is_recurrent, (std::vector<bool>{true, false, true, false, true}));
  auto m = Model::from_gguf(std::move(file).value());
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("blk.1.attn_q.weight"), std::string::npos)
      << m.status().message();
}

TEST(ModelHParams, PublishedShapes) {
  bool tied = false;
  auto hp = synthetic_hparams(Arch::kQwen35Moe, "35b-a3b", &tied);
  ASSERT_TRUE(hp.is_ok());
  EXPECT_EQ(hp->conv_dim(), 8192);
  EXPECT_EQ(hp->n_attention_layers(), 10);
  EXPECT_FALSE(tied);
  auto h27 = synthetic_hparams(Arch::kQwen35, "27b", &tied);
  ASSERT_TRUE(h27.is_ok());
  EXPECT_EQ(h27->value_dim(), 6144);
  EXPECT_EQ(h27->n_attention_layers(), 16);
  EXPECT_FALSE(synthetic_hparams(Arch::kQwen35, "35b-a3b", nullptr).is_ok());
  EXPECT_FALSE(synthetic_hparams(Arch::kQwen35, "3b", nullptr).is_ok());
}

TEST(ModelReference, TinyDenseMatchesFloat64Reference) {
  auto tm = make_tiny(Arch::kQwen35);
  ASSERT_TRUE(tm.model);
  ThreadPool pool(1);
  auto tokens = random_tokens(70, tm.model->n_vocab(), 1);
  auto ref = reference_logits(tm.model->file(), tokens);
  auto got = run_prefill(*tm.model, tokens, pool);
  const double err = max_rel_error(got, ref);
  RecordProperty("max_rel_error", std::to_string(err));
  std::printf("max relative error vs float64 reference: %.2e\n", err);
  EXPECT_LT(err, 5e-4) << "prefill vs float64 reference";
  auto dec = run_decode(*tm.model, tokens, pool);
  EXPECT_LT(max_rel_error(dec, ref), 5e-4) << "decode vs float64 reference";
}

TEST(ModelReference, TinyMoeMatchesFloat64Reference) {
  auto tm = make_tiny(Arch::kQwen35Moe);
  ASSERT_TRUE(tm.model);
  EXPECT_FALSE(tm.model->weights().tied_output);
  ThreadPool pool(1);
  auto tokens = random_tokens(66, tm.model->n_vocab(), 2);
  auto ref = reference_logits(tm.model->file(), tokens);
  auto got = run_prefill(*tm.model, tokens, pool);
  const double err = max_rel_error(got, ref);
  RecordProperty("max_rel_error", std::to_string(err));
  std::printf("max relative error vs float64 reference: %.2e\n", err);
  EXPECT_LT(err, 5e-4);
}

TEST(ModelForward, PrefillMatchesDecodeAtChunkBoundaries) {
  auto tm = make_tiny(Arch::kQwen35);
  ASSERT_TRUE(tm.model);
  ThreadPool pool(1);
  for (int64_t n : {1, 63, 64, 65, 130}) {
    auto tokens = random_tokens(n, tm.model->n_vocab(), 10 + n);
    auto pre = run_prefill(*tm.model, tokens, pool);
    auto dec = run_decode(*tm.model, tokens, pool);
    EXPECT_LT(max_rel_error(pre, dec), 1e-4) << "n = " << n;
  }
}

TEST(ModelForward, ForcedRecurrentAndChunkedAgree) {
  auto tm = make_tiny(Arch::kQwen35);
  ASSERT_TRUE(tm.model);
  ThreadPool pool(1);
  auto tokens = random_tokens(100, tm.model->n_vocab(), 3);
  auto a = run_prefill(*tm.model, tokens, pool, GdnMode::kChunked);
  auto b = run_prefill(*tm.model, tokens, pool, GdnMode::kRecurrent);
  EXPECT_LT(max_rel_error(a, b), 1e-4);
}

// Random delta-rule inputs shaped like the model's (normalised q/k, decays in (0, 1]).
struct DeltaCase {
  int64_t T, dk, dv;
  std::vector<float> q, k, v, g, beta, S0;
  explicit DeltaCase(int64_t T_, int64_t dk_ = 32, int64_t dv_ = 24, uint32_t seed = 1)
      : T(T_), dk(dk_), dv(dv_) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n01(0.0f, 1.0f);
    std::uniform_real_distribution<float> u01(0.0f, 1.0f);
    q.resize(T * dk);
    k.resize(T * dk);
    v.resize(T * dv);
    g.resize(T);
    beta.resize(T);
    for (auto& x : v) x = n01(rng);
    for (int64_t t = 0; t < T; ++t) {
      double sq = 0, sk = 0;
      for (int64_t i = 0; i < dk; ++i) {
        q[t * dk + i] = n01(rng);
        k[t * dk + i] = n01(rng);
        sq += q[t * dk + i] * q[t * dk + i];
        sk += k[t * dk + i] * k[t * dk + i];
      }
      for (int64_t i = 0; i < dk; ++i) {
        q[t * dk + i] /= std::sqrt(sq) * std::sqrt(static_cast<double>(dk));
        k[t * dk + i] /= std::sqrt(sk);
      }
      g[t] = -2.0f * u01(rng) * u01(rng);
      beta[t] = u01(rng);
    }
    S0.resize(dk * dv);
    for (auto& x : S0) x = 0.3f * n01(rng);
  }
  DeltaRuleInput input() const {
    return DeltaRuleInput{q.data(),    k.data(), dk, v.data(), dv, g.data(),
                          beta.data(), 1,        T,  dk,       dv};
  }
};

TEST(DeltaRule, ChunkedMatchesRecurrent) {
  for (int64_t T : {1, 2, 63, 64, 65, 200}) {
    DeltaCase c(T, 32, 24, static_cast<uint32_t>(T));
    std::vector<float> S1 = c.S0, S2 = c.S0, o1(T * c.dv), o2(T * c.dv);
    delta_rule_recurrent(c.input(), S1.data(), o1.data(), c.dv);
    delta_rule_chunked(c.input(), S2.data(), o2.data(), c.dv);
    EXPECT_LT(max_rel_error(o2, o1), 1e-4) << "outputs, T = " << T;
    EXPECT_LT(max_rel_error(S2, S1), 1e-4) << "state, T = " << T;
  }
}

TEST(DeltaRule, SmallChunksAndSplitCallsAgree) {
  DeltaCase c(150);
  std::vector<float> S1 = c.S0, S2 = c.S0, o1(c.T * c.dv), o2(c.T * c.dv);
  delta_rule_chunked(c.input(), S1.data(), o1.data(), c.dv, 64);
  // Same sequence in two calls (prefill continued by another prefill), chunk 16.
  DeltaRuleInput a = c.input(), b = c.input();
  a.n_tokens = 77;
  b.q += 77 * c.dk;
  b.k += 77 * c.dk;
  b.v += 77 * c.dv;
  b.g += 77;
  b.beta += 77;
  b.n_tokens = c.T - 77;
  delta_rule_chunked(a, S2.data(), o2.data(), c.dv, 16);
  delta_rule_chunked(b, S2.data(), o2.data() + 77 * c.dv, c.dv, 16);
  EXPECT_LT(max_rel_error(o2, o1), 1e-4);
  EXPECT_LT(max_rel_error(S2, S1), 1e-4);
}

TEST(Moe, RouteRenormalisesTopK) {
  const float logits[6] = {0.1f, 2.0f, -1.0f, 1.5f, 0.0f, 1.9f};
  int32_t idx[3];
  float w[3];
  moe_route(logits, 6, 3, idx, w);
  EXPECT_EQ(idx[0], 1);
  EXPECT_EQ(idx[1], 5);
  EXPECT_EQ(idx[2], 3);
  EXPECT_NEAR(w[0] + w[1] + w[2], 1.0f, 1e-6f);
  const double e1 = std::exp(2.0), e5 = std::exp(1.9), e3 = std::exp(1.5);
  EXPECT_NEAR(w[0], e1 / (e1 + e5 + e3), 1e-5);
}

TEST(ModelForward, BatchOfSequencesEqualsEachAlone) {
  for (Arch arch : {Arch::kQwen35, Arch::kQwen35Moe}) {
    auto tm = make_tiny(arch);
    ASSERT_TRUE(tm.model);
    const Model& m = *tm.model;
    const int64_t V = m.n_vocab();
    ThreadPool pool(2);  // also exercises the multi-threaded paths
    // Sequence 0 has a 20-token history and decodes 1; 1 prefills 70; 2 prefills 5.
    auto hist = random_tokens(20, V, 5);
    auto t0 = random_tokens(1, V, 6), t1 = random_tokens(70, V, 7), t2 = random_tokens(5, V, 8);
    SequenceState s0 = m.new_sequence(), s1 = m.new_sequence(), s2 = m.new_sequence();
    BatchEntry warm{&s0, hist, LogitsMode::kNone, nullptr};
    ASSERT_TRUE(m.forward(std::span<BatchEntry>(&warm, 1), pool).is_ok());
    const SequenceState s0_after_hist = s0.snapshot();
    std::vector<float> l0(V), l1(70 * V), l2(V);
    BatchEntry batch[3] = {{&s0, t0, LogitsMode::kLast, l0.data()},
                           {&s1, t1, LogitsMode::kAll, l1.data()},
                           {&s2, t2, LogitsMode::kLast, l2.data()}};
    ASSERT_TRUE(m.forward(batch, pool).is_ok());
    EXPECT_EQ(s0.n_past(), 21);
    EXPECT_EQ(s1.n_past(), 70);

    SequenceState a0 = s0_after_hist;
    std::vector<float> r0(V), r1(70 * V), r2(V);
    BatchEntry e0{&a0, t0, LogitsMode::kLast, r0.data()};
    ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e0, 1), pool).is_ok());
    r1 = run_prefill(m, t1, pool);
    SequenceState a2 = m.new_sequence();
    BatchEntry e2{&a2, t2, LogitsMode::kLast, r2.data()};
    ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e2, 1), pool).is_ok());
    EXPECT_LT(max_rel_error(l0, r0), 1e-5) << arch_name(arch);
    EXPECT_LT(max_rel_error(l1, r1), 1e-5) << arch_name(arch);
    EXPECT_LT(max_rel_error(l2, r2), 1e-5) << arch_name(arch);
  }
}

TEST(ModelForward, Q8KvCacheCloseToF16) {
  auto tm = make_tiny(Arch::kQwen35);
  ASSERT_TRUE(tm.model);
  const Model& m = *tm.model;
  ThreadPool pool(1);
  auto tokens = random_tokens(80, m.n_vocab(), 13);
  std::vector<float> a(tokens.size() * m.n_vocab()), b(a.size());
  SequenceState s16 = m.new_sequence(), s8 = m.new_sequence(KvType::kQ8_0);
  EXPECT_EQ(s8.kv_type(), KvType::kQ8_0);
  BatchEntry e16{&s16, tokens, LogitsMode::kAll, a.data()};
  BatchEntry e8{&s8, tokens, LogitsMode::kAll, b.data()};
  ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e16, 1), pool).is_ok());
  ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e8, 1), pool).is_ok());
  const double err = max_rel_error(b, a);
  std::printf("q8_0 vs f16 KV cache: max relative logit error %.2e\n", err);
  EXPECT_LT(err, 2e-2);
  EXPECT_GT(err, 0.0);
  EXPECT_LT(s8.memory_bytes(), s16.memory_bytes());
}

TEST(ModelForward, SnapshotRestoreReproducesContinuation) {
  auto tm = make_tiny(Arch::kQwen35);
  ASSERT_TRUE(tm.model);
  const Model& m = *tm.model;
  ThreadPool pool(1);
  auto prompt = random_tokens(300, m.n_vocab(), 11);  // crosses a KV chunk boundary
  auto more = random_tokens(12, m.n_vocab(), 12);
  SequenceState s = m.new_sequence();
  BatchEntry e{&s, prompt, LogitsMode::kNone, nullptr};
  ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e, 1), pool).is_ok());
  const SequenceState snap = s.snapshot();
  std::vector<float> a(more.size() * m.n_vocab()), b(a.size()), c(a.size());
  BatchEntry e1{&s, more, LogitsMode::kAll, a.data()};
  ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e1, 1), pool).is_ok());
  // Running something else on the state, then restoring, gives the identical continuation.
  BatchEntry junk{&s, prompt, LogitsMode::kNone, nullptr};
  ASSERT_TRUE(m.forward(std::span<BatchEntry>(&junk, 1), pool).is_ok());
  s.restore(snap);
  EXPECT_EQ(s.n_past(), 300);
  BatchEntry e2{&s, more, LogitsMode::kAll, b.data()};
  ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e2, 1), pool).is_ok());
  EXPECT_EQ(a, b);
  // A reset state is a fresh sequence.
  s.reset();
  BatchEntry e3{&s, more, LogitsMode::kAll, c.data()};
  ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e3, 1), pool).is_ok());
  EXPECT_EQ(c, run_prefill(m, more, pool));
}

// Relative RMS error of the logits and the fraction of positions whose argmax agrees.
struct QuantError {
  double rms_rel = 0;
  double top1 = 0;
};
QuantError quant_error(const std::vector<float>& got, const std::vector<float>& ref, int64_t V) {
  double num = 0, den = 0;
  int64_t agree = 0;
  const int64_t T = static_cast<int64_t>(ref.size()) / V;
  for (int64_t t = 0; t < T; ++t) {
    int64_t a = 0, b = 0;
    for (int64_t v = 0; v < V; ++v) {
      const double d = got[t * V + v] - ref[t * V + v];
      num += d * d;
      den += static_cast<double>(ref[t * V + v]) * ref[t * V + v];
      if (got[t * V + v] > got[t * V + a]) a = v;
      if (ref[t * V + v] > ref[t * V + b]) b = v;
    }
    agree += a == b ? 1 : 0;
  }
  return {std::sqrt(num / den), static_cast<double>(agree) / static_cast<double>(T)};
}

// Measured on these tiny random models (seed 21, 40 tokens), relative RMS logit error:
//   dense: f16 0.10 %, q8_0 3.1 %, q4_k_m 21 % (top-1 agreement 100 % for all three);
//   MoE:   f16 0.15 %, q8_0 5.0 %, q4_k_m 43 % (expert choices flip under 4-bit noise).
// The error is the sum of ~35 independent per-matrix errors (q8_0: 0.4 % weights + 0.4 %
// activations), not an amplification. Bounds leave ~1.5-2x headroom; the ordering must hold.
TEST(ModelQuantised, QuantisedCloseToF32) {
  ThreadPool pool(1);
  struct Case {
    FileType type;
    double tol_dense, tol_moe;
  };
  for (Arch arch : {Arch::kQwen35, Arch::kQwen35Moe}) {
    auto f32 = make_tiny(arch, FileType::kF32, 21);
    ASSERT_TRUE(f32.model);
    const int64_t V = f32.model->n_vocab();
    auto tokens = random_tokens(40, V, 4);
    auto ref = run_prefill(*f32.model, tokens, pool);
    double prev = 0;
    for (Case c : {Case{FileType::kF16, 5e-3, 5e-3}, Case{FileType::kQ8_0, 0.06, 0.1},
                   Case{FileType::kQ4_K_M, 0.4, 0.7}}) {
      auto q = make_tiny(arch, c.type, 21);
      ASSERT_TRUE(q.model);
      const QuantError e = quant_error(run_prefill(*q.model, tokens, pool), ref, V);
      RecordProperty(std::string(arch_name(arch)) + "_rms_rel_" + file_type_name(c.type),
                     std::to_string(e.rms_rel));
      std::printf("%s %s: logits rms rel error %.4f, top-1 agreement %.2f\n", arch_name(arch),
                  file_type_name(c.type), e.rms_rel, e.top1);
      const double tol = arch == Arch::kQwen35 ? c.tol_dense : c.tol_moe;
      EXPECT_LT(e.rms_rel, tol) << file_type_name(c.type);
      EXPECT_GT(e.rms_rel, prev) << file_type_name(c.type) << " should be noisier than the last";
      if (arch == Arch::kQwen35 && c.type != FileType::kQ4_K_M) EXPECT_GE(e.top1, 0.9);
      prev = e.rms_rel;
    }
  }
}

// Where the CPU's kernels prefer it (AVX-512), Q4_K / Q6_K matrices are repacked into the rows16
// layout at load: logits must equal the row-major model's up to f32 summation order, and a batch
// of sequences must still equal each sequence alone on the repacked model.
TEST(ModelQuantised, RepackedMatchesRowMajor) {
  ThreadPool pool(2);
  for (Arch arch : {Arch::kQwen35, Arch::kQwen35Moe}) {
    const std::vector<uint8_t> bytes = synthetic_bytes(arch, FileType::kQ4_K_M, 5);
    auto packed = load_bytes(bytes, /*repack_for_kernels=*/true);
    auto plain = load_bytes(bytes, /*repack_for_kernels=*/false);
    ASSERT_TRUE(packed.model && plain.model);
    const kernels::WeightMatrix& head = packed.model->weights().output;
    EXPECT_EQ(head.layout == kernels::WeightLayout::kRows16,
              kernels::rows16_preferred(head.type, head.rows, head.cols))
        << arch_name(arch);
    EXPECT_EQ(plain.model->weights().output.layout, kernels::WeightLayout::kRowMajor);
    const int64_t V = packed.model->n_vocab();
    auto tokens = random_tokens(40, V, 12);
    const std::vector<float> a = run_prefill(*packed.model, tokens, pool);
    const std::vector<float> b = run_prefill(*plain.model, tokens, pool);
    // Not bit-equal: the f32 epilogues sum in another order, and a last-bit difference can move
    // an activation across an int8 rounding boundary in the next layer (one step of amax/127).
    // Measured: relative RMS 1.0e-2 (dense) / 4.5e-3 (MoE), the same size as between the AVX2 and
    // AVX-512 row-major kernels on the same model (1.0e-2 / 1.5e-2); a wrong scale or lane gives
    // O(1) errors.
    const QuantError e = quant_error(a, b, V);
    std::printf("%s repacked vs row-major: rms rel %.2e, top-1 agreement %.2f\n", arch_name(arch),
                e.rms_rel, e.top1);
    EXPECT_LT(e.rms_rel, 3e-2) << arch_name(arch);
    EXPECT_GE(e.top1, 0.95) << arch_name(arch);

    // Three sequences decoding one token each in one step vs one at a time (different token
    // counts reach the rows16 kernel: 3 vs 1).
    const Model& m = *packed.model;
    std::vector<SequenceState> together, alone;
    std::vector<std::vector<int32_t>> hist = {random_tokens(7, V, 1), random_tokens(3, V, 2),
                                              random_tokens(11, V, 3)};
    for (int i = 0; i < 3; ++i) {
      together.push_back(m.new_sequence());
      BatchEntry e{&together.back(), hist[i], LogitsMode::kNone, nullptr};
      ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e, 1), pool).is_ok());
      alone.push_back(together.back().snapshot());
    }
    std::vector<std::vector<float>> lt(3, std::vector<float>(V)), la = lt;
    std::vector<int32_t> next = {5, 17, 29};
    std::vector<BatchEntry> batch;
    for (int i = 0; i < 3; ++i) {
      batch.push_back(
          {&together[i], std::span<const int32_t>(&next[i], 1), LogitsMode::kLast, lt[i].data()});
    }
    ASSERT_TRUE(m.forward(batch, pool).is_ok());
    for (int i = 0; i < 3; ++i) {
      BatchEntry e{&alone[i], std::span<const int32_t>(&next[i], 1), LogitsMode::kLast,
                   la[i].data()};
      ASSERT_TRUE(m.forward(std::span<BatchEntry>(&e, 1), pool).is_ok());
      EXPECT_LT(max_rel_error(lt[i], la[i]), 1e-5) << arch_name(arch) << " sequence " << i;
    }
  }
}

TEST(ModelQuantised, Q4KMTypeMixing) {
  auto q = make_tiny(Arch::kQwen35Moe, FileType::kQ4_K_M, 3);
  ASSERT_TRUE(q.model);
  const auto& f = q.model->file();
  EXPECT_EQ(f.find_tensor("output.weight")->type, DType::kQ6_K);
  EXPECT_EQ(f.find_tensor("token_embd.weight")->type, DType::kQ4_K);
  // More-bits layers of 5: i < 5/8, i >= 35/8, or (i - 5/8) % 3 == 2 -> layers 2 and 4.
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down_exps.weight")->type, DType::kQ4_K);
  EXPECT_EQ(f.find_tensor("blk.2.ffn_down_exps.weight")->type, DType::kQ6_K);
  EXPECT_EQ(f.find_tensor("blk.4.ffn_down_exps.weight")->type, DType::kQ6_K);
  EXPECT_EQ(f.find_tensor("blk.4.ffn_down_shexp.weight")->type, DType::kQ6_K);
  EXPECT_EQ(f.find_tensor("blk.1.ffn_up_exps.weight")->type, DType::kQ4_K);
  EXPECT_EQ(f.find_tensor("blk.0.attn_qkv.weight")->type, DType::kQ5_K);  // GDN qkv: Q5_K
  EXPECT_EQ(f.find_tensor("blk.0.ssm_conv1d.weight")->type, DType::kF32);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_gate_inp.weight")->type, DType::kF32);
  // attn_v counts with the 4 GDN attn_qkv: index 0 of 5 is not a more-bits one.
  EXPECT_EQ(f.find_tensor("blk.3.attn_v.weight")->type, DType::kQ4_K);
  EXPECT_EQ(*f.get_u64("general.file_type"), 15u);
  // Tied dense q4_k_m: the embedding doubles as the head, so it gets the head's Q6_K.
  auto d = make_tiny(Arch::kQwen35, FileType::kQ4_K_M, 3);
  ASSERT_TRUE(d.model);
  EXPECT_EQ(d.model->file().find_tensor("token_embd.weight")->type, DType::kQ6_K);
}

TEST(ModelSynthetic, DeterministicForSeed) {
  auto a = synthetic_bytes(Arch::kQwen35Moe, FileType::kQ8_0, 5);
  auto b = synthetic_bytes(Arch::kQwen35Moe, FileType::kQ8_0, 5);
  auto c = synthetic_bytes(Arch::kQwen35Moe, FileType::kQ8_0, 6);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(ModelSynthetic, ActivationsStaySane) {
  for (Arch arch : {Arch::kQwen35, Arch::kQwen35Moe}) {
    auto tm = make_tiny(arch);
    ASSERT_TRUE(tm.model);
    ThreadPool pool(1);
    auto logits = run_prefill(*tm.model, random_tokens(32, tm.model->n_vocab(), 9), pool);
    double mx = 0;
    for (float x : logits) {
      ASSERT_TRUE(std::isfinite(x));
      mx = std::max(mx, static_cast<double>(std::abs(x)));
    }
    EXPECT_GT(mx, 0.05) << arch_name(arch);
    EXPECT_LT(mx, 50.0) << arch_name(arch);
  }
}

TEST(ModelLoad, MissingTensorIsNamed) {
  auto bytes = synthetic_bytes(Arch::kQwen35, FileType::kF32, 1);
  auto bad = rewrite(bytes, nullptr, [](const std::string& name, std::vector<int64_t>&) {
    return name != "blk.2.ssm_a";
  });
  ASSERT_FALSE(bad.empty());
  auto file = gguf::GgufFile::from_memory(bad.data(), bad.size());
  ASSERT_TRUE(file.is_ok());
  auto m = Model::from_gguf(std::move(file).value());
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(m.status().message().find("blk.2.ssm_a"), std::string::npos) << m.status().message();
}

TEST(ModelLoad, WrongShapeNamesTensorAndShapes) {
  auto bytes = synthetic_bytes(Arch::kQwen35, FileType::kF32, 1);
  auto bad = rewrite(bytes, nullptr, [](const std::string& name, std::vector<int64_t>& ne) {
    if (name == "blk.1.ssm_alpha.weight") ne = {256, 8};
    return true;
  });
  ASSERT_FALSE(bad.empty());
  auto file = gguf::GgufFile::from_memory(bad.data(), bad.size());
  ASSERT_TRUE(file.is_ok());
  auto m = Model::from_gguf(std::move(file).value());
  ASSERT_FALSE(m.is_ok());
  const std::string& msg = m.status().message();
  EXPECT_NE(msg.find("blk.1.ssm_alpha.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[256, 8]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[256, 4]"), std::string::npos) << msg;
}

TEST(ModelLoad, UnknownArchitecture) {
  auto bytes = synthetic_bytes(Arch::kQwen35, FileType::kF32, 1);
  auto bad = rewrite(
      bytes, [](gguf::GgufWriter& w) { w.set_string("general.architecture", "llama"); }, nullptr);
  ASSERT_FALSE(bad.empty());
  auto file = gguf::GgufFile::from_memory(bad.data(), bad.size());
  ASSERT_TRUE(file.is_ok());
  auto m = Model::from_gguf(std::move(file).value());
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(m.status().message().find("llama"), std::string::npos);
}

TEST(ModelLoad, MissingMetadataKeyIsNamed) {
  auto bytes = synthetic_bytes(Arch::kQwen35, FileType::kF32, 1);
  auto file0 = gguf::GgufFile::from_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(file0.is_ok());
  gguf::GgufWriter w;
  for (const auto& [k, v] : file0->metadata()) {
    if (k != "qwen35.ssm.time_step_rank") w.set(k, v);
  }
  for (const auto& t : file0->tensors()) {
    ASSERT_TRUE(
        w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), t.data, t.n_bytes)
            .is_ok());
  }
  auto bad = w.to_bytes();
  ASSERT_TRUE(bad.is_ok());
  auto file = gguf::GgufFile::from_memory(bad->data(), bad->size());
  ASSERT_TRUE(file.is_ok());
  auto m = Model::from_gguf(std::move(file).value());
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("time_step_rank"), std::string::npos) << m.status().message();
}

TEST(ModelLoad, MtpBlockCountedButAbsentIsTolerated) {
  auto bytes = synthetic_bytes(Arch::kQwen35, FileType::kF32, 1);
  auto mtp = rewrite(
      bytes,
      [](gguf::GgufWriter& w) {
        w.set_u32("qwen35.block_count", 6);
        w.set_u32("qwen35.nextn_predict_layers", 1);
      },
      nullptr);
  // Same, with an MTP block actually present (a full-attention-like block L plus nextn.*).
  auto mtp_full = [&] {
    auto f = gguf::GgufFile::from_memory(mtp.data(), mtp.size());
    gguf::GgufWriter w;
    for (const auto& [k, v] : f->metadata()) w.set(k, v);
    for (const auto& t : f->tensors()) {
      EXPECT_TRUE(w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), t.data,
                               t.n_bytes)
                      .is_ok());
    }
    const int64_t D = 256;
    std::vector<float> zeros(2 * D * D, 0.0f);
    EXPECT_TRUE(w.add_tensor("blk.5.nextn.eh_proj.weight", DType::kF32, {2 * D, D}, zeros.data(),
                             zeros.size() * 4)
                    .is_ok());
    EXPECT_TRUE(
        w.add_tensor("blk.5.attn_norm.weight", DType::kF32, {D}, zeros.data(), D * 4).is_ok());
    EXPECT_TRUE(
        w.add_tensor("blk.5.nextn.enorm.weight", DType::kF32, {D}, zeros.data(), D * 4).is_ok());
    return std::move(w.to_bytes()).value();
  }();
  auto c = load_bytes(mtp_full);
  ASSERT_TRUE(c.model);
  EXPECT_EQ(c.model->hparams().n_layer, 5);
  auto a = load_bytes(bytes), b = load_bytes(mtp);
  ASSERT_TRUE(a.model && b.model);
  EXPECT_EQ(b.model->hparams().n_layer, 5);
  EXPECT_EQ(b.model->hparams().n_block, 6);
  ThreadPool pool(1);
  auto tokens = random_tokens(9, a.model->n_vocab(), 2);
  const auto la = run_prefill(*a.model, tokens, pool);
  EXPECT_EQ(la, run_prefill(*b.model, tokens, pool));
  EXPECT_EQ(la, run_prefill(*c.model, tokens, pool));
}

TEST(ModelForward, BadInputsAreErrors) {
  auto tm = make_tiny(Arch::kQwen35);
  ASSERT_TRUE(tm.model);
  ThreadPool pool(1);
  SequenceState s = tm.model->new_sequence();
  std::vector<int32_t> bad = {1, static_cast<int32_t>(tm.model->n_vocab())};
  std::vector<float> logits(tm.model->n_vocab());
  BatchEntry e{&s, bad, LogitsMode::kLast, logits.data()};
  Status st = tm.model->forward(std::span<BatchEntry>(&e, 1), pool);
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.n_past(), 0);
  std::vector<int32_t> ok = {1, 2};
  BatchEntry twice[2] = {{&s, ok, LogitsMode::kNone, nullptr},
                         {&s, ok, LogitsMode::kNone, nullptr}};
  EXPECT_FALSE(tm.model->forward(twice, pool).is_ok());
  BatchEntry no_buf{&s, ok, LogitsMode::kLast, nullptr};
  EXPECT_FALSE(tm.model->forward(std::span<BatchEntry>(&no_buf, 1), pool).is_ok());
  SequenceState foreign;
  BatchEntry wrong{&foreign, ok, LogitsMode::kNone, nullptr};
  EXPECT_FALSE(tm.model->forward(std::span<BatchEntry>(&wrong, 1), pool).is_ok());
}

}  // namespace
}  // namespace hearth::model
