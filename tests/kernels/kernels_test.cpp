// Matrix kernels (matvec / matmul) for every weight type and every ISA this CPU runs, against the
// scalar reference in kernels/ref, over awkward shapes and thread counts.
//
// Tolerances, and why:
//  * Against ref::matvec_act_quantized (same activation quantisation as the kernel, dequantised
//    weights, double accumulation): the kernels' integer products are exact, so only f32 rounding
//    of the per-block scaling and accumulation differs: |err| <= 1e-4 * sum|w*x| for quantised
//    types, 2e-5 * sum|w*x| for F32/F16/BF16 and the dequantise fallback (pure f32 FMA chains).
//  * Against ref::matvec on the unquantised x: activation quantisation to 8 bits (Q8_0 / Q8_K)
//    moves each x by at most amax/254, so |err| <= 1e-2 * sum|w*x| (float-only types: 2e-5).
//  * matmul vs matvec for the same token: same arithmetic per row, 1e-6 * sum|w*x|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/float16.h"
#include "test_util.h"

namespace hearth::kernels {
namespace {

using testing::IsaGuard;
using testing::make_matrix;
using testing::random_floats;
using testing::supported_isas;

bool is_float_type(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}
bool activations_quantised(DType t) {
  const WKind k = wkind_of(t);
  return k != WKind::kCount && act_kind(k) != ActKind::kF32;
}

const DType kAllTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                           DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kQ4_1, DType::kQ5_0,
                           DType::kQ5_1, DType::kQ2_K, DType::kQ3_K};

// Column counts per type: any K for float types, multiples of 32 (not of 256) for legacy blocks.
std::vector<int64_t> cols_for(DType t) {
  if (is_float_type(t)) return {1, 7, 33, 300, 1000};
  if (block_size(t) == 32) return {32, 96, 800};
  return {256, 768};
}

double tight_tol(DType t) {
  return activations_quantised(t) ? 1e-4 : 2e-5;
}

// The weights dequantised once (through ref's path), so per-token reference dots are cheap.
struct DenseRef {
  DType type;
  int64_t rows, cols;
  std::vector<float> w;  // [rows][cols]

  explicit DenseRef(const WeightMatrix& m) : type(m.type), rows(m.rows), cols(m.cols) {
    w.resize(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
      if (!dequantize_row(type, m.row(r), w.data() + r * cols, cols).is_ok()) std::abort();
    }
  }
  // Checks y (one token) against the reference with and without activation quantisation.
  void expect_matches(const float* x, const float* y) const {
    std::vector<float> xq(static_cast<size_t>(cols));
    ref::quantize_dequantize_act(type, x, xq.data(), cols);
    const double loose = activations_quantised(type) ? 1e-2 : 2e-5;
    for (int64_t r = 0; r < rows; ++r) {
      const float* wr = w.data() + r * cols;
      double ref_q = 0.0, ref_f = 0.0, mag = 1e-6;
      for (int64_t c = 0; c < cols; ++c) {
        ref_q += static_cast<double>(wr[c]) * xq[c];
        ref_f += static_cast<double>(wr[c]) * x[c];
        mag += std::fabs(static_cast<double>(wr[c]) * xq[c]);
      }
      ASSERT_NEAR(y[r], ref_q, tight_tol(type) * mag) << "row " << r;
      ASSERT_NEAR(y[r], ref_f, loose * mag) << "row " << r;
    }
  }
};

// Through the ref:: entry points themselves (they are the documented oracle).
void expect_matches_ref(const WeightMatrix& w, const float* x, const float* y) {
  std::vector<float> ref_q(static_cast<size_t>(w.rows)), ref_f(static_cast<size_t>(w.rows)),
      abs_q(static_cast<size_t>(w.rows));
  ASSERT_TRUE(ref::matvec_act_quantized(w, x, ref_q.data()).is_ok());
  ASSERT_TRUE(ref::matvec(w, x, ref_f.data()).is_ok());
  ASSERT_TRUE(ref::matvec_abs(w, x, abs_q.data()).is_ok());
  const double loose = activations_quantised(w.type) ? 1e-2 : 2e-5;
  for (int64_t r = 0; r < w.rows; ++r) {
    const double scale = abs_q[r] + 1e-6;
    ASSERT_NEAR(y[r], ref_q[r], tight_tol(w.type) * scale) << "row " << r;
    ASSERT_NEAR(y[r], ref_f[r], loose * scale) << "row " << r;
  }
}

TEST(Kernels, IsaSelection) {
  IsaGuard guard;
  EXPECT_TRUE(isa_supported(Isa::kScalar));
  EXPECT_TRUE(isa_supported(best_isa()));
  for (Isa i : supported_isas()) {
    EXPECT_TRUE(set_isa(i));
    EXPECT_EQ(current_isa(), i);
  }
  for (Isa i : {Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(i)) {
      const Isa before = current_isa();
      EXPECT_FALSE(set_isa(i));
      EXPECT_EQ(current_isa(), before);
    }
  }
  EXPECT_STREQ(isa_name(Isa::kAvx512), "avx512");
}

TEST(Kernels, ActivationQuantisationIsBitExactAcrossIsas) {
  std::vector<const KernelTable*> tables = {&generic_kernel_table()};
#if defined(__x86_64__)
  if (isa_supported(Isa::kAvx2)) tables.push_back(&avx2_kernel_table());
  if (isa_supported(Isa::kAvx512)) tables.push_back(&avx512_kernel_table());
#endif
  const int64_t n = 1024;
  std::vector<float> x = random_floats(n, 7, 3.0f);
  x[5] = 0.5f;  // exact .5 cases after scaling are likely with a power-of-two amax
  std::fill(x.begin() + 256, x.begin() + 512, 0.0f);  // an all-zero block: d = 0, q = 0
  std::vector<ActQ8> want8(n / 32), got8(n / 32);
  std::vector<ActQ8K> wantk(n / 256), gotk(n / 256);
  ref::quantize_act_q8(x.data(), want8.data(), n);
  ref::quantize_act_q8k(x.data(), wantk.data(), n);
  for (const KernelTable* kt : tables) {
    kt->quantize_act_q8(x.data(), got8.data(), n);
    kt->quantize_act_q8k(x.data(), gotk.data(), n);
    if (kt->q8k_interleaved) {  // back to natural order: swap 32-groups 1 and 2 of each 128
      for (ActQ8K& b : gotk) {
        for (int h = 0; h < 2; ++h) {
          for (int i = 0; i < 32; ++i) std::swap(b.qs[128 * h + 32 + i], b.qs[128 * h + 64 + i]);
        }
      }
    }
    EXPECT_EQ(std::memcmp(want8.data(), got8.data(), sizeof(ActQ8) * want8.size()), 0);
    EXPECT_EQ(std::memcmp(wantk.data(), gotk.data(), sizeof(ActQ8K) * wantk.size()), 0);
  }
  // The Q8_K rule itself: d = amax/127, bsums consistent with qs.
  for (const ActQ8K& b : wantk) {
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += b.qs[16 * g + i];
      EXPECT_EQ(s, b.bsums[g]);
    }
    for (int g = 0; g < 8; ++g) {
      EXPECT_EQ(b.bsums32[g], b.bsums[2 * g] + b.bsums[2 * g + 1]);
      EXPECT_EQ(b.dsums32[g], b.d * static_cast<float>(b.bsums32[g]));
    }
  }
}

TEST(Kernels, MatvecMatchesReferenceEveryTypeAndIsa) {
  IsaGuard guard;
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (DType t : kAllTypes) {
      ASSERT_TRUE(matmul_supported(t)) << dtype_name(t);
      uint32_t seed = 1;
      for (int64_t cols : cols_for(t)) {
        for (int64_t rows : {1, 3, 17, 67}) {
          SCOPED_TRACE(::testing::Message() << isa_name(isa) << " " << dtype_name(t)
                                            << " rows=" << rows << " cols=" << cols);
          auto m = make_matrix(t, rows, cols, seed++);
          const std::vector<float> x = random_floats(cols, seed++);
          for (size_t p = 0; p < std::size(pools); ++p) {
            // 3 threads on a 2-core machine oversubscribes: one shape per type is enough.
            if (p == 2 && rows != 17) continue;
            ThreadPool& pool = pools[p];
            std::vector<float> y(static_cast<size_t>(rows) + 1, -7.0f);
            matvec(m.w, x.data(), y.data(), pool);
            EXPECT_EQ(y[rows], -7.0f) << "wrote past rows";
            expect_matches_ref(m.w, x.data(), y.data());
          }
        }
      }
    }
  }
}

TEST(Kernels, MatvecLargeK) {
  IsaGuard guard;
  ThreadPool pool(2);
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (DType t : kAllTypes) {
      // 16384 for block types (a multiple of 256), 16391 for float types (any K).
      const int64_t cols = is_float_type(t) ? 16391 : 16384;
      SCOPED_TRACE(::testing::Message() << isa_name(isa) << " " << dtype_name(t));
      auto m = make_matrix(t, 3, cols, 11);
      const std::vector<float> x = random_floats(cols, 12);
      std::vector<float> y(3);
      matvec(m.w, x.data(), y.data(), pool);
      expect_matches_ref(m.w, x.data(), y.data());
    }
  }
}

TEST(Kernels, RowStrideIsHonoured) {
  IsaGuard guard;
  ThreadPool pool(2);
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (DType t : {DType::kQ4_K, DType::kQ8_0, DType::kF16}) {
      auto m = make_matrix(t, 9, 512, 3);
      // Re-lay the rows with 64 bytes of padding between them.
      const size_t rb = row_bytes(t, 512), stride = rb + 64;
      std::vector<uint8_t> padded(stride * 9, 0xff);
      for (int r = 0; r < 9; ++r)
        std::memcpy(padded.data() + r * stride, m.bytes.data() + r * rb, rb);
      WeightMatrix ws = m.w;
      ws.data = padded.data();
      ws.row_stride = stride;
      const std::vector<float> x = random_floats(512, 4);
      std::vector<float> y1(9), y2(9);
      matvec(m.w, x.data(), y1.data(), pool);
      matvec(ws, x.data(), y2.data(), pool);
      EXPECT_EQ(y1, y2) << dtype_name(t);
    }
  }
}

TEST(Kernels, MatmulMatchesMatvecAndReference) {
  IsaGuard guard;
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (DType t : kAllTypes) {
      const int64_t cols = is_float_type(t) ? 300 : (block_size(t) == 32 ? 224 : 512);
      uint32_t seed = 100;
      for (int64_t rows : {1, 17, 67}) {
        auto m = make_matrix(t, rows, cols, seed++);
        const DenseRef dense(m.w);
        for (int64_t n_tokens : {1, 2, 5, 64, 65}) {
          SCOPED_TRACE(::testing::Message() << isa_name(isa) << " " << dtype_name(t)
                                            << " rows=" << rows << " tokens=" << n_tokens);
          const int64_t ldx = cols + 3, ldy = rows + 2;
          const std::vector<float> x = random_floats(n_tokens * ldx, seed++);
          for (size_t p = 0; p < std::size(pools); ++p) {
            // Large token counts only with 2 threads: keeps the test quick under sanitizers.
            if (n_tokens >= 64 && p != 1) continue;
            ThreadPool& pool = pools[p];
            std::vector<float> y(static_cast<size_t>(n_tokens * ldy), -7.0f);
            matmul(m.w, x.data(), ldx, n_tokens, y.data(), ldy, pool);
            std::vector<float> yv(static_cast<size_t>(rows));
            for (int64_t tk = 0; tk < n_tokens; ++tk) {
              const float* xt = x.data() + tk * ldx;
              const float* yt = y.data() + tk * ldy;
              EXPECT_EQ(yt[rows], -7.0f);
              EXPECT_EQ(yt[rows + 1], -7.0f);
              matvec(m.w, xt, yv.data(), pools[0]);
              // Same per-row arithmetic as matvec: equal up to f32 reassociation (in practice
              // exact).
              for (int64_t r = 0; r < rows; ++r) {
                ASSERT_NEAR(yt[r], yv[r], 1e-6 * std::fabs(yv[r]) + 1e-5)
                    << "token " << tk << " row " << r;
              }
              dense.expect_matches(xt, yt);
            }
          }
        }
      }
    }
  }
}

// Decode-sized batches, every token count 1..17 (full tiles of 8 and 4 tokens, and every
// remainder), one row and many, a large K: each token's row equals matvec of that token alone
// and the reference.
TEST(Kernels, MatmulSmallBatchesEveryCount) {
  IsaGuard guard;
  ThreadPool pool(2);
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (DType t : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kQ8_0, DType::kF16}) {
      for (int64_t cols : {int64_t{256}, int64_t{4096}}) {
        for (int64_t rows : {int64_t{1}, int64_t{37}}) {
          auto m = make_matrix(t, rows, cols, static_cast<uint32_t>(rows + cols));
          const DenseRef dense(m.w);
          const std::vector<float> x = random_floats(17 * cols, static_cast<uint32_t>(cols));
          std::vector<float> yv(static_cast<size_t>(rows));
          for (int64_t n_tokens = 1; n_tokens <= 17; ++n_tokens) {
            // Large K: a few counts only (the tile logic is K-independent), to stay quick.
            const bool few = n_tokens == 1 || n_tokens == 5 || n_tokens == 8 || n_tokens == 17;
            if (cols > 256 && !few) continue;
            SCOPED_TRACE(::testing::Message() << isa_name(isa) << " " << dtype_name(t) << " rows="
                                              << rows << " cols=" << cols << " n=" << n_tokens);
            std::vector<float> y(static_cast<size_t>(n_tokens * rows), -7.0f);
            matmul(m.w, x.data(), cols, n_tokens, y.data(), rows, pool);
            for (int64_t tk = 0; tk < n_tokens; ++tk) {
              matvec(m.w, x.data() + tk * cols, yv.data(), pool);
              // Tiles of several tokens may use fewer float chains than matvec (the same
              // products, reassociated): f32 rounding relative to sum |w x|.
              const float* xt = x.data() + tk * cols;
              for (int64_t r = 0; r < rows; ++r) {
                double mag = 0.0;
                for (int64_t c = 0; c < cols; ++c) mag += std::fabs(dense.w[r * cols + c] * xt[c]);
                ASSERT_NEAR(y[tk * rows + r], yv[r], 1e-6 * mag + 1e-5)
                    << "token " << tk << " row " << r;
              }
              if (cols == 256) dense.expect_matches(x.data() + tk * cols, y.data() + tk * rows);
            }
          }
        }
      }
    }
  }
}

// matmul_rows writes token t's outputs through its own pointer (rows of separate buffers, in
// any order) with the same values as matmul.
// The AVX-512 K-quant dots pack int32 partial sums of 4 products into int16 (4 * 63 * 127 for
// Q6_K, 4 * 31 * 127 for Q5_K): blocks at the extremes (every quant and scale at its maximum, Q6_K
// scales at -128) against activations at +-127 must still match the reference exactly enough.
TEST(Kernels, KQuantExtremesDoNotSaturate) {
  IsaGuard guard;
  ThreadPool pool(2);
  const int64_t cols = 512, rows = 3;
  std::vector<float> x(static_cast<size_t>(3 * cols));
  for (int64_t c = 0; c < cols; ++c) {
    x[c] = 1.0f;
    x[cols + c] = -1.0f;
    x[2 * cols + c] = (c & 1) ? 1.0f : -1.0f;
  }
  for (DType t : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    const size_t rb = row_bytes(t, cols), bb = rb / (cols / 256);
    std::vector<uint8_t> bytes(rb * rows + 1);
    std::mt19937 rng(11);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < cols / 256; ++b) {
        uint8_t* blk = bytes.data() + r * rb + b * bb;
        for (size_t i = 0; i < bb; ++i) {
          blk[i] = r == 0 ? 0xff : r == 1 ? 0x80 : static_cast<uint8_t>(rng());
        }
        const uint16_t one = 0x3c00, half = 0x3800;  // f16 1.0, 0.5
        if (t == DType::kQ6_K) {
          auto* q6 = reinterpret_cast<BlockQ6_K*>(blk);
          if (r == 1) {  // largest quants under the most negative scales
            std::memset(q6->ql, 0xff, sizeof(q6->ql));
            std::memset(q6->qh, 0xff, sizeof(q6->qh));
          }
          q6->d = one;
        } else {  // Q4_K / Q5_K: d and dmin lead both layouts
          std::memcpy(blk, &one, 2);
          std::memcpy(blk + 2, r == 2 ? &half : &one, 2);
        }
      }
    }
    const WeightMatrix w{t, rows, cols, bytes.data(), 0};
    const DenseRef dense(w);
    for (Isa isa : supported_isas()) {
      ASSERT_TRUE(set_isa(isa));
      std::vector<float> y(static_cast<size_t>(3 * rows)), yv(static_cast<size_t>(rows));
      matmul(w, x.data(), cols, 3, y.data(), rows, pool);
      for (int64_t tk = 0; tk < 3; ++tk) {
        SCOPED_TRACE(::testing::Message()
                     << isa_name(isa) << " " << dtype_name(t) << " token " << tk);
        dense.expect_matches(x.data() + tk * cols, y.data() + tk * rows);
        matvec(w, x.data() + tk * cols, yv.data(), pool);
        dense.expect_matches(x.data() + tk * cols, yv.data());
      }
    }
  }
}

TEST(Kernels, MatmulRowsScattersOutputs) {
  IsaGuard guard;
  ThreadPool pool(2);
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (DType t : {DType::kQ6_K, DType::kQ4_K, DType::kF32, DType::kQ5_0}) {
      SCOPED_TRACE(::testing::Message() << isa_name(isa) << " " << dtype_name(t));
      const int64_t rows = 45, cols = 512, n_tokens = 11;
      auto m = make_matrix(t, rows, cols, 5);
      const std::vector<float> x = random_floats(n_tokens * cols, 6);
      std::vector<float> y(static_cast<size_t>(n_tokens * rows));
      matmul(m.w, x.data(), cols, n_tokens, y.data(), rows, pool);
      std::vector<std::vector<float>> bufs(static_cast<size_t>(n_tokens));
      std::vector<float*> ptrs;
      for (int64_t tk = 0; tk < n_tokens; ++tk) {
        bufs[static_cast<size_t>(n_tokens - 1 - tk)].assign(static_cast<size_t>(rows + 1), -7.0f);
        ptrs.push_back(bufs[static_cast<size_t>(n_tokens - 1 - tk)].data());
      }
      matmul_rows(m.w, x.data(), cols, n_tokens, ptrs.data(), pool);
      for (int64_t tk = 0; tk < n_tokens; ++tk) {
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_EQ(ptrs[tk][r], y[tk * rows + r]) << tk << " " << r;
        EXPECT_EQ(ptrs[tk][rows], -7.0f);
      }
    }
  }
}

// More tokens than one internal pass (256): every chunk lands at the right rows of y.
TEST(Kernels, MatmulLongBatch) {
  IsaGuard guard;
  ThreadPool pool(2);
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (DType t : {DType::kQ4_K, DType::kQ8_0, DType::kF16, DType::kQ5_0}) {
      SCOPED_TRACE(::testing::Message() << isa_name(isa) << " " << dtype_name(t));
      const int64_t rows = 5, cols = 256, n_tokens = 600;
      auto m = make_matrix(t, rows, cols, 21);
      const std::vector<float> x = random_floats(n_tokens * cols, 22);
      std::vector<float> y(static_cast<size_t>(n_tokens * rows)), yv(rows);
      matmul(m.w, x.data(), cols, n_tokens, y.data(), rows, pool);
      for (int64_t tk = 0; tk < n_tokens; tk += 37) {
        matvec(m.w, x.data() + tk * cols, yv.data(), pool);
        for (int64_t r = 0; r < rows; ++r) {
          ASSERT_NEAR(y[tk * rows + r], yv[r], 1e-6 * std::fabs(yv[r]) + 1e-5) << tk << " " << r;
        }
      }
    }
  }
}

TEST(Kernels, BadMatrixIsRejectedNotCrashed) {
  ThreadPool pool(1);
  WeightMatrix w;
  w.type = DType::kQ4_K;
  w.rows = 2;
  w.cols = 100;  // not a multiple of 256
  std::vector<uint8_t> bytes(1024);
  w.data = bytes.data();
  EXPECT_FALSE(check_matrix(w).is_ok());
  std::vector<float> x(100, 1.0f), y(2, 0.0f);
  matvec(w, x.data(), y.data(), pool);
  EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[1]));

  w.type = DType::kIQ2_XXS;  // no kernel and no dequantiser
  w.cols = 256;
  EXPECT_FALSE(check_matrix(w).is_ok());
  EXPECT_FALSE(matmul_supported(DType::kIQ2_XXS));
  w.type = DType::kQ8_0;
  w.data = nullptr;
  EXPECT_FALSE(check_matrix(w).is_ok());
  w.data = bytes.data();
  EXPECT_TRUE(check_matrix(w).is_ok());
}

TEST(Kernels, EmbeddingRowMatchesDequantise) {
  for (DType t :
       {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
    auto m = make_matrix(t, 5, 512, 9);
    std::vector<float> got(512), want(512);
    embedding_row(m.w, 3, got.data());
    ASSERT_TRUE(dequantize_row(t, m.w.row(3), want.data(), 512).is_ok());
    EXPECT_EQ(got, want) << dtype_name(t);
  }
  auto m = make_matrix(DType::kF32, 2, 8, 1);
  std::vector<float> out(8);
  embedding_row(m.w, 2, out.data());  // out of range: NaNs, no crash
  EXPECT_TRUE(std::isnan(out[0]));
}

}  // namespace
}  // namespace hearth::kernels
