// The AVX-512 rows16 Q6_K band product (KernelTable::rows16_dot[kQ6_K], cpu/x86_rows16_q6k.inc)
// against two oracles on the same quantised activations: the AVX-512 row-major Q6_K row dot on
// the original rows, and ref::matvec_act_quantized (dequantised weights, double accumulation).
// Tolerances as in kernels_test.cpp: the integer products are exact, only the f32 scaling and
// accumulation order differ, so |err| <= 1e-4 * sum|w*x| (ref::matvec_abs) against the reference
// and 2e-5 * sum|w*x| against the row kernel (same arithmetic up to the f32 summation order).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/rows16.h"
#include "tensor/blocks.h"
#include "test_util.h"

namespace hearth::kernels {
namespace {

#if defined(__x86_64__) || defined(_M_X64)

using testing::make_matrix;
using testing::random_floats;

constexpr int kQ6K = static_cast<int>(WKind::kQ6_K);

// A row-major Q6_K matrix and its rows16 copy.
struct Q6KBands {
  std::vector<uint8_t> row_major;  // [rows][row_bytes]
  std::vector<uint8_t> packed;     // [rows / 16 bands][16 * row_bytes]
  int64_t rows = 0, cols = 0;

  WeightMatrix matrix() const {
    WeightMatrix w;
    w.type = DType::kQ6_K;
    w.rows = rows;
    w.cols = cols;
    w.data = row_major.data();
    return w;
  }
  size_t bytes_per_row() const { return row_bytes(DType::kQ6_K, cols); }
  const uint8_t* row(int64_t r) const { return row_major.data() + r * bytes_per_row(); }
  const uint8_t* band(int64_t g) const { return packed.data() + g * kRows16 * bytes_per_row(); }
};

Q6KBands pack(std::vector<uint8_t> row_major, int64_t rows, int64_t cols) {
  Q6KBands m;
  m.rows = rows;
  m.cols = cols;
  m.row_major = std::move(row_major);
  m.packed.assign(m.row_major.size(), 0);
  repack_rows16(DType::kQ6_K, m.row_major.data(), m.bytes_per_row(), cols, 0, rows / kRows16,
                m.packed.data());
  return m;
}

Q6KBands random_bands(int64_t bands, int64_t cols, uint32_t seed) {
  const int64_t rows = bands * kRows16;
  testing::TestMatrix tm = make_matrix(DType::kQ6_K, rows, cols, seed);
  tm.bytes.resize(row_bytes(DType::kQ6_K, cols) * static_cast<size_t>(rows));
  return pack(std::move(tm.bytes), rows, cols);
}

// nt quantised activation vectors (AVX-512 table order), `pad_blocks` spare blocks between them
// so a stride larger than one vector is exercised.
struct Acts {
  std::vector<float> x;   // [nt][cols]
  std::vector<ActQ8K> q;  // [nt][cols / 256 + pad_blocks]
  size_t stride = 0;      // bytes between vectors
};

Acts quantise(const KernelTable& kt, std::vector<float> x, int64_t cols, int nt, int pad_blocks) {
  Acts a;
  a.x = std::move(x);
  const int64_t per = cols / kQK_K + pad_blocks;
  a.q.assign(static_cast<size_t>(per * nt), ActQ8K{});
  a.stride = static_cast<size_t>(per) * sizeof(ActQ8K);
  for (int t = 0; t < nt; ++t)
    kt.quantize_act_q8k(a.x.data() + t * cols, a.q.data() + t * per, cols);
  return a;
}

// Runs the rows16 kernel over every band and checks each (row, token) against both oracles.
void expect_band_products_match(const KernelTable& kt, const Q6KBands& m, const Acts& a, int nt) {
  const int64_t cols = m.cols;
  const WeightMatrix w = m.matrix();
  const int64_t bands = m.rows / kRows16;
  // Oracles per token: ref (double) and its magnitude scale, and the AVX-512 row kernel.
  std::vector<float> ref_q(static_cast<size_t>(m.rows * nt)), mag(static_cast<size_t>(m.rows * nt)),
      row_dot(static_cast<size_t>(m.rows * nt));
  for (int t = 0; t < nt; ++t) {
    ASSERT_TRUE(
        ref::matvec_act_quantized(w, a.x.data() + t * cols, ref_q.data() + t * m.rows).is_ok());
    ASSERT_TRUE(ref::matvec_abs(w, a.x.data() + t * cols, mag.data() + t * m.rows).is_ok());
    const uint8_t* act_t = reinterpret_cast<const uint8_t*>(a.q.data()) + t * a.stride;
    for (int64_t r = 0; r < m.rows; ++r) {
      kt.row_dot[kQ6K](cols, m.row(r), act_t, a.stride, 1, &row_dot[t * m.rows + r]);
    }
  }
  for (int64_t g = 0; g < bands; ++g) {
    // Prefilled with NaN, plus a guard tail that must stay untouched.
    std::vector<float> out(static_cast<size_t>(16 * nt + 16),
                           std::numeric_limits<float>::quiet_NaN());
    kt.rows16_dot[kQ6K](cols, m.band(g), a.q.data(), a.stride, nt, out.data());
    for (int t = 0; t < nt; ++t) {
      for (int r = 0; r < kRows16; ++r) {
        const int64_t row = g * kRows16 + r;
        const float got = out[16 * t + r];
        const double scale = mag[t * m.rows + row] + 1e-6;
        SCOPED_TRACE(::testing::Message() << "cols " << cols << " nt " << nt << " band " << g
                                          << " token " << t << " row " << r);
        ASSERT_TRUE(std::isfinite(got));
        ASSERT_NEAR(got, ref_q[t * m.rows + row], 1e-4 * scale);
        ASSERT_NEAR(got, row_dot[t * m.rows + row], 2e-5 * scale);
      }
    }
    for (size_t i = static_cast<size_t>(16 * nt); i < out.size(); ++i) {
      ASSERT_TRUE(std::isnan(out[i])) << "wrote past token " << nt - 1 << " at " << i;
    }
  }
}

const KernelTable* avx512_or_null() {
  if (!isa_supported(Isa::kAvx512)) return nullptr;
  return &avx512_kernel_table();
}

TEST(Rows16Q6K, KernelIsRegistered) {
  const KernelTable* kt = avx512_or_null();
  if (!kt) GTEST_SKIP() << "no AVX-512 on this CPU";
  EXPECT_NE(kt->rows16_dot[kQ6K], nullptr);
  EXPECT_TRUE(kt->q8k_interleaved);  // the kernel reads the activations in that order
}

TEST(Rows16Q6K, RandomRowsMatchRowKernelAndReference) {
  const KernelTable* kt = avx512_or_null();
  if (!kt) GTEST_SKIP() << "no AVX-512 on this CPU";
  ASSERT_NE(kt->rows16_dot[kQ6K], nullptr);
  uint32_t seed = 1;
  for (int64_t cols : {256, 512, 1024, 3584}) {
    for (int64_t bands : {1, 3}) {
      const Q6KBands m = random_bands(bands, cols, seed++);
      for (int nt = 1; nt <= kRows16MaxTile; ++nt) {
        std::vector<float> x = random_floats(nt * cols, seed++, 2.0f);
        // Token 0 gets a large outlier (coarse quantisation of the rest of its block).
        x[static_cast<size_t>(3 % cols)] = 40.0f;
        const Acts a = quantise(*kt, std::move(x), cols, nt, /*pad_blocks=*/nt % 2);
        expect_band_products_match(*kt, m, a, nt);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

// Blocks at the extremes: every quant at 63 or 0 under the largest / most negative scales, random
// bytes (any scale sign), and activations at +-127: the int32 sub-block sums (with the -32 * bsum
// start) must neither saturate nor lose exactness.
TEST(Rows16Q6K, ExtremeBlocksDoNotSaturate) {
  const KernelTable* kt = avx512_or_null();
  if (!kt) GTEST_SKIP() << "no AVX-512 on this CPU";
  ASSERT_NE(kt->rows16_dot[kQ6K], nullptr);
  const int64_t cols = 512, bands = 2, rows = bands * kRows16;
  const size_t rb = row_bytes(DType::kQ6_K, cols);
  std::vector<uint8_t> bytes(rb * rows);
  std::mt19937 rng(5);
  const uint16_t one = 0x3c00, quarter = 0x3400;  // f16 1.0, 0.25
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < cols / kQK_K; ++b) {
      auto* blk = reinterpret_cast<BlockQ6_K*>(bytes.data() + r * rb + b * sizeof(BlockQ6_K));
      for (size_t i = 0; i < sizeof(BlockQ6_K); ++i) {
        reinterpret_cast<uint8_t*>(blk)[i] = static_cast<uint8_t>(rng());
      }
      const int kind = static_cast<int>(r % 6);
      const uint8_t quant_fill = (kind == 0 || kind == 1 || kind == 4) ? 0xff : 0x00;
      if (kind < 5) {  // kind 5: random quants and scales
        std::memset(blk->ql, quant_fill, sizeof(blk->ql));
        std::memset(blk->qh, quant_fill, sizeof(blk->qh));
      }
      for (int s = 0; s < 16; ++s) {
        if (kind == 0 || kind == 2) blk->scales[s] = 127;
        if (kind == 1 || kind == 3) blk->scales[s] = -128;
        if (kind == 4) blk->scales[s] = static_cast<int8_t>((s & 1) ? -128 : 127);
      }
      blk->d = (r & 1) ? one : quarter;
    }
  }
  const Q6KBands m = pack(std::move(bytes), rows, cols);
  for (int nt : {1, 3, 8}) {
    std::vector<float> x(static_cast<size_t>(nt * cols));
    for (int t = 0; t < nt; ++t) {
      for (int64_t c = 0; c < cols; ++c) {
        float v = 1.0f;
        if (t % 3 == 1) v = -1.0f;
        if (t % 3 == 2) v = (c & 1) ? 1.0f : -1.0f;
        x[static_cast<size_t>(t * cols + c)] = v;
      }
    }
    const Acts a = quantise(*kt, std::move(x), cols, nt, 0);
    expect_band_products_match(*kt, m, a, nt);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Every output of every token is written (not accumulated): a second call into the same buffer
// gives the same values, and zero activations give exactly zero.
TEST(Rows16Q6K, OutputIsWrittenNotAccumulated) {
  const KernelTable* kt = avx512_or_null();
  if (!kt) GTEST_SKIP() << "no AVX-512 on this CPU";
  ASSERT_NE(kt->rows16_dot[kQ6K], nullptr);
  const int64_t cols = 768;
  const Q6KBands m = random_bands(1, cols, 99);
  for (int nt = 1; nt <= kRows16MaxTile; ++nt) {
    const Acts a = quantise(*kt, random_floats(nt * cols, 100 + nt), cols, nt, 0);
    std::vector<float> first(static_cast<size_t>(16 * nt), std::numeric_limits<float>::quiet_NaN());
    kt->rows16_dot[kQ6K](cols, m.band(0), a.q.data(), a.stride, nt, first.data());
    std::vector<float> again = first;
    kt->rows16_dot[kQ6K](cols, m.band(0), a.q.data(), a.stride, nt, again.data());
    for (size_t i = 0; i < first.size(); ++i) {
      ASSERT_TRUE(std::isfinite(first[i])) << "nt " << nt << " output " << i;
      ASSERT_EQ(first[i], again[i]) << "nt " << nt << " output " << i;
    }
    const Acts zero =
        quantise(*kt, std::vector<float>(static_cast<size_t>(nt * cols), 0.0f), cols, nt, 0);
    kt->rows16_dot[kQ6K](cols, m.band(0), zero.q.data(), zero.stride, nt, again.data());
    for (size_t i = 0; i < again.size(); ++i) ASSERT_EQ(again[i], 0.0f) << "nt " << nt;
  }
}

#endif  // x86-64

}  // namespace
}  // namespace hearth::kernels
