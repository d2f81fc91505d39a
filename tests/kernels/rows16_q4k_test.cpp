// The AVX-512 rows16 Q4_K kernel (rows16_dot[kQ4_K], cpu/x86_rows16_q4k.inc) against the same
// table's row-major row_dot[kQ4_K] on the same rows and quantised activations, and against
// ref::matvec_act_quantized; random and extreme blocks, 1..8 tokens, one and several bands.
// Tolerance as in kernels_test.cpp: both sides compute exact integer sub-block sums, so only f32
// rounding of the scaling / accumulation differs: 1e-4 * sum|w * x| (ref::matvec_abs).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/rows16.h"
#include "tensor/blocks.h"
#include "tensor/float16.h"
#include "test_util.h"

namespace hearth::kernels {
namespace {

using testing::random_floats;

constexpr int kQ4K = static_cast<int>(WKind::kQ4_K);

// A Q4_K matrix in both layouts.
struct Q4KMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> row_major;  // [rows][row_bytes]
  std::vector<uint8_t> packed;     // [rows / 16] bands, rows16 layout
  WeightMatrix w;                  // the row-major one

  size_t row_bytes_() const { return row_bytes(DType::kQ4_K, cols); }
  const uint8_t* band(int64_t g) const { return packed.data() + g * 16 * row_bytes_(); }
  void finish() {
    packed.assign(row_major.size(), 0);
    repack_rows16(DType::kQ4_K, row_major.data(), row_bytes_(), cols, 0, rows / kRows16,
                  packed.data());
    w.type = DType::kQ4_K;
    w.rows = rows;
    w.cols = cols;
    w.data = row_major.data();
  }
};

Q4KMatrix random_q4k(int64_t rows, int64_t cols, uint32_t seed) {
  Q4KMatrix m;
  m.rows = rows, m.cols = cols;
  m.row_major.resize(m.row_bytes_() * rows);
  const std::vector<float> src = random_floats(rows * cols, seed);
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_TRUE(quantize_row(DType::kQ4_K, src.data() + r * cols,
                             m.row_major.data() + r * m.row_bytes_(), cols)
                    .is_ok());
  }
  m.finish();
  return m;
}

// Blocks no quantiser produces but a file may hold: every row a different extreme pattern (all
// quants 15 with scales / mins 63, zero scales, zero d, huge d, random raw bytes, ...).
Q4KMatrix extreme_q4k(int64_t rows, int64_t cols, uint32_t seed) {
  Q4KMatrix m;
  m.rows = rows, m.cols = cols;
  m.row_major.resize(m.row_bytes_() * rows);
  std::mt19937 rng(seed);
  auto* blocks = reinterpret_cast<BlockQ4_K*>(m.row_major.data());
  const int64_t nb = cols / kQK_K;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < nb; ++b) {
      BlockQ4_K& blk = blocks[r * nb + b];
      for (auto& v : blk.qs) v = static_cast<uint8_t>(rng());
      for (auto& v : blk.scales) v = static_cast<uint8_t>(rng());
      blk.d = fp32_to_fp16(std::ldexp(static_cast<float>(rng() % 1000 + 1) / 1000.0f, -8));
      blk.dmin = fp32_to_fp16(std::ldexp(static_cast<float>(rng() % 1000) / 1000.0f, -9));
      switch ((r + b) % 6) {
        case 0:  // everything at its maximum: 15 * 63 per weight, min 63
          std::memset(blk.qs, 0xff, sizeof(blk.qs));
          std::memset(blk.scales, 0xff, sizeof(blk.scales));
          blk.d = fp32_to_fp16(60000.0f);
          blk.dmin = fp32_to_fp16(60000.0f);
          break;
        case 1:  // max quants and scales, no min
          std::memset(blk.qs, 0xff, sizeof(blk.qs));
          for (int p = 0; p < 4; ++p) blk.scales[p] = 0x3f, blk.scales[p + 4] = 0xc0;
          for (int p = 8; p < 12; ++p) blk.scales[p] = 0x0f;
          break;
        case 2:  // zero scales and mins, only the top two bits of the low bytes set
          std::memset(blk.scales, 0xc0, 8);
          std::memset(blk.scales + 8, 0, 4);
          break;
        case 3:  // d = 0: only the min term
          blk.d = 0;
          break;
        case 4:  // high nibbles 15, low 0
          std::memset(blk.qs, 0xf0, sizeof(blk.qs));
          break;
        default:  // random raw bytes as drawn
          break;
      }
    }
  }
  m.finish();
  return m;
}

// nt activation vectors of cols elements: Gaussian, plus extreme tokens (all +max, alternating
// signs of one magnitude, one outlier) so that the qs reach +-127 in every position.
std::vector<float> activations(int nt, int64_t cols, uint32_t seed, bool extreme) {
  std::vector<float> x = random_floats(nt * cols, seed, 3.0f);
  if (extreme) {
    for (int t = 0; t < nt; ++t) {
      float* xt = x.data() + t * cols;
      for (int64_t c = 0; c < cols; ++c) {
        switch (t % 3) {
          case 0:
            xt[c] = 100.0f;
            break;
          case 1:
            xt[c] = c % 2 ? -7.0f : 7.0f;
            break;
          default:
            xt[c] = c == cols / 3 ? 1e4f : xt[c];
            break;
        }
      }
    }
  }
  return x;
}

struct Quantised {
  std::vector<ActQ8K> blocks;  // [nt][cols / 256]
  size_t stride = 0;           // bytes between tokens
};

Quantised quantise(const KernelTable& kt, const std::vector<float>& x, int nt, int64_t cols) {
  Quantised q;
  const int64_t nb = cols / kQK_K;
  q.blocks.resize(static_cast<size_t>(nt * nb));
  q.stride = static_cast<size_t>(nb) * sizeof(ActQ8K);
  for (int t = 0; t < nt; ++t)
    kt.quantize_act_q8k(x.data() + t * cols, q.blocks.data() + t * nb, cols);
  return q;
}

// Runs the rows16 kernel band by band and checks every (token, row) against row_dot on the
// row-major rows (same table, same activations) and against the double-precision reference.
void check_matrix_products(const Q4KMatrix& m, int nt, const std::vector<float>& x,
                           const char* what) {
  const KernelTable& kt = avx512_kernel_table();
  ASSERT_NE(kt.rows16_dot[kQ4K], nullptr);
  ASSERT_TRUE(kt.q8k_interleaved);
  const Quantised q = quantise(kt, x, nt, m.cols);
  std::vector<double> abs_dot(static_cast<size_t>(nt * m.rows)), ref_dot(abs_dot.size());
  for (int t = 0; t < nt; ++t) {
    std::vector<float> a(m.rows), r(m.rows);
    ASSERT_TRUE(ref::matvec_abs(m.w, x.data() + t * m.cols, a.data()).is_ok());
    ASSERT_TRUE(ref::matvec_act_quantized(m.w, x.data() + t * m.cols, r.data()).is_ok());
    for (int64_t row = 0; row < m.rows; ++row) {
      abs_dot[t * m.rows + row] = a[row];
      ref_dot[t * m.rows + row] = r[row];
    }
  }
  for (int64_t g = 0; g < m.rows / kRows16; ++g) {
    // Two spare tiles' worth past the end: the kernel must write exactly nt * 16 floats.
    std::vector<float> out(static_cast<size_t>((nt + 2) * 16), std::nanf(""));
    kt.rows16_dot[kQ4K](m.cols, m.band(g), q.blocks.data(), q.stride, nt, out.data());
    for (size_t i = static_cast<size_t>(nt) * 16; i < out.size(); ++i) {
      ASSERT_TRUE(std::isnan(out[i])) << "wrote past out[nt * 16 - 1]";
    }
    for (int r = 0; r < kRows16; ++r) {
      const int64_t row = g * kRows16 + r;
      float want[kRows16MaxTile];
      kt.row_dot[kQ4K](m.cols, m.row_major.data() + row * m.row_bytes_(), q.blocks.data(), q.stride,
                       nt, want);
      for (int t = 0; t < nt; ++t) {
        const float got = out[t * 16 + r];
        const double tol = 1e-4 * abs_dot[t * m.rows + row] + 1e-6;
        ASSERT_FALSE(std::isnan(got)) << what << " token " << t << " row " << row;
        ASSERT_NEAR(got, want[t], tol) << what << " cols " << m.cols << " nt " << nt << " token "
                                       << t << " row " << row << " (vs row_dot)";
        ASSERT_NEAR(got, ref_dot[t * m.rows + row], tol)
            << what << " cols " << m.cols << " nt " << nt << " token " << t << " row " << row
            << " (vs ref)";
      }
    }
  }
}

bool have_avx512() {
  return isa_supported(Isa::kAvx512);
}

TEST(Rows16Q4K, RandomRowsMatchRowDotAndReference) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  uint32_t seed = 100;
  for (int64_t cols : {256, 512, 1024, 3584}) {
    for (int64_t rows : {16, 48}) {
      const Q4KMatrix m = random_q4k(rows, cols, seed++);
      for (int nt = 1; nt <= kRows16MaxTile; ++nt) {
        check_matrix_products(m, nt, activations(nt, cols, seed++, false), "random");
      }
    }
  }
}

TEST(Rows16Q4K, ExtremeBlocksAndActivations) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  uint32_t seed = 500;
  for (int64_t cols : {256, 768, 1536}) {
    const Q4KMatrix m = extreme_q4k(32, cols, seed++);
    for (int nt : {1, 2, 3, 5, 8}) {
      check_matrix_products(m, nt, activations(nt, cols, seed++, true), "extreme x extreme");
      check_matrix_products(m, nt, activations(nt, cols, seed++, false), "extreme x random");
    }
  }
}

// A zero activation vector (d = 0) next to non-zero ones, and a band of all-zero blocks: the
// outputs are exactly zero, not NaN or stale values.
TEST(Rows16Q4K, ZerosGiveExactZeros) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  const KernelTable& kt = avx512_kernel_table();
  const int64_t cols = 512;
  const Q4KMatrix m = random_q4k(16, cols, 7);
  std::vector<float> x = activations(3, cols, 8, false);
  std::fill(x.begin() + cols, x.begin() + 2 * cols, 0.0f);  // token 1 all zero
  const Quantised q = quantise(kt, x, 3, cols);
  std::vector<float> out(3 * 16, std::nanf(""));
  kt.rows16_dot[kQ4K](cols, m.band(0), q.blocks.data(), q.stride, 3, out.data());
  for (int r = 0; r < 16; ++r) {
    EXPECT_EQ(out[16 + r], 0.0f) << "row " << r;
    EXPECT_FALSE(std::isnan(out[r]));
    EXPECT_FALSE(std::isnan(out[32 + r]));
  }
  Q4KMatrix z;
  z.rows = 16, z.cols = cols;
  z.row_major.assign(z.row_bytes_() * 16, 0);
  z.finish();
  std::fill(out.begin(), out.end(), std::nanf(""));
  kt.rows16_dot[kQ4K](cols, z.band(0), q.blocks.data(), q.stride, 3, out.data());
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

// The activation stride may exceed one vector (tokens inside a larger buffer), and the kernel
// reads each token at act + t * stride.
TEST(Rows16Q4K, HonoursActivationStride) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  const KernelTable& kt = avx512_kernel_table();
  const int64_t cols = 768, nb = cols / kQK_K;
  const int nt = 6;
  const Q4KMatrix m = random_q4k(16, cols, 21);
  const std::vector<float> x = activations(nt, cols, 22, false);
  const Quantised tight = quantise(kt, x, nt, cols);
  // Same vectors, each followed by one junk block.
  std::vector<ActQ8K> loose(static_cast<size_t>(nt * (nb + 1)));
  std::memset(loose.data(), 0x7f, loose.size() * sizeof(ActQ8K));
  for (int t = 0; t < nt; ++t) {
    std::memcpy(&loose[t * (nb + 1)], &tight.blocks[t * nb], nb * sizeof(ActQ8K));
  }
  std::vector<float> a(nt * 16), b(nt * 16);
  kt.rows16_dot[kQ4K](cols, m.band(0), tight.blocks.data(), tight.stride, nt, a.data());
  kt.rows16_dot[kQ4K](cols, m.band(0), loose.data(), (nb + 1) * sizeof(ActQ8K), nt, b.data());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace hearth::kernels
