// rows16 layout: repack / read-back round trip, and every product path on a rows16 matrix (each
// ISA's dispatcher, fast kernel or the unpack-to-rows fallback) against the same matrix row-major.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/rows16.h"
#include "test_util.h"

namespace hearth::kernels {
namespace {

using testing::IsaGuard;
using testing::make_matrix;
using testing::random_floats;
using testing::supported_isas;
using testing::TestMatrix;

struct Rows16Copy {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};

Rows16Copy to_rows16(const WeightMatrix& src) {
  Rows16Copy c;
  c.bytes.resize(row_bytes(src.type, src.cols) * static_cast<size_t>(src.rows));
  repack_rows16(src.type, src.data, src.stride(), src.cols, 0, src.rows / kRows16, c.bytes.data());
  c.w = src;
  c.w.data = c.bytes.data();
  c.w.layout = WeightLayout::kRows16;
  return c;
}

TEST(Rows16, RepackReadBackIsExactAndKeepsSize) {
  for (DType t : {DType::kQ4_K, DType::kQ6_K}) {
    for (int64_t cols : {256, 768}) {
      const int64_t rows = 48;
      const size_t rb = row_bytes(t, cols);
      // Arbitrary bytes, not just valid quantisations: the layout is a pure permutation.
      std::vector<uint8_t> src(rb * rows);
      std::mt19937 rng(7);
      for (auto& b : src) b = static_cast<uint8_t>(rng());
      std::vector<uint8_t> packed(src.size(), 0);
      // In two pieces, as the model loader does.
      repack_rows16(t, src.data(), rb, cols, 0, 1, packed.data());
      repack_rows16(t, src.data(), rb, cols, 1, rows / kRows16, packed.data());
      EXPECT_NE(0, std::memcmp(src.data(), packed.data(), src.size()));
      std::vector<uint8_t> sorted_src = src, sorted_packed = packed;
      std::sort(sorted_src.begin(), sorted_src.end());
      std::sort(sorted_packed.begin(), sorted_packed.end());
      EXPECT_EQ(sorted_src, sorted_packed) << "a permutation of the bytes";
      std::vector<uint8_t> row(rb);
      for (int64_t r = 0; r < rows; ++r) {
        unpack_rows16_row(t, packed.data(), cols, r, row.data());
        ASSERT_EQ(0, std::memcmp(row.data(), src.data() + r * rb, rb))
            << dtype_name(t) << " cols " << cols << " row " << r;
      }
    }
  }
}

TEST(Rows16, GroupFieldsSitWhereTheSpecSays) {
  // Spot checks of rows16.h against hand-computed offsets (row 5, super-block 1 of 2).
  const int64_t cols = 512;
  {
    std::vector<BlockQ4_K> rows(16 * 2);
    std::memset(rows.data(), 0, rows.size() * sizeof(BlockQ4_K));
    BlockQ4_K& b = rows[5 * 2 + 1];
    b.d = 0x1234;
    b.scales[7] = 0xAB;
    b.qs[32 * 2 + 4 * 3 + 1] = 0xCD;
    std::vector<uint8_t> p(rows.size() * sizeof(BlockQ4_K));
    repack_rows16(DType::kQ4_K, rows.data(), 2 * sizeof(BlockQ4_K), cols, 0, 1, p.data());
    const uint8_t* g = p.data() + 2304;
    EXPECT_EQ(0x34, g[2 * 5]);
    EXPECT_EQ(0x12, g[2 * 5 + 1]);
    EXPECT_EQ(0xAB, g[64 + 16 * 7 + 5]);
    EXPECT_EQ(0xCD, g[256 + 4 * (16 * (8 * 2 + 3) + 5) + 1]);
  }
  {
    std::vector<BlockQ6_K> rows(16 * 2);
    std::memset(rows.data(), 0, rows.size() * sizeof(BlockQ6_K));
    BlockQ6_K& b = rows[5 * 2 + 1];
    b.scales[11] = -3;
    b.ql[64 * 1 + 32 * 1 + 4 * 2 + 3] = 0x5A;
    b.qh[32 * 1 + 4 * 6 + 2] = 0xC3;
    std::vector<uint8_t> p(rows.size() * sizeof(BlockQ6_K));
    repack_rows16(DType::kQ6_K, rows.data(), 2 * sizeof(BlockQ6_K), cols, 0, 1, p.data());
    const uint8_t* g = p.data() + 3360;
    EXPECT_EQ(static_cast<uint8_t>(-3), g[32 + 16 * 11 + 5]);
    EXPECT_EQ(0x5A, g[288 + 4 * (16 * (16 * 1 + 8 * 1 + 2) + 5) + 3]);
    EXPECT_EQ(0xC3, g[2336 + 4 * (16 * (8 * 1 + 6) + 5) + 2]);
  }
}

// matmul on the rows16 copy == matmul on the row-major original (same ISA, same activation
// quantisation), within f32 accumulation-order differences, for batches around the tile sizes.
TEST(Rows16, MatmulMatchesRowMajorOnEveryIsa) {
  IsaGuard guard;
  ThreadPool pool(2);
  for (DType t : {DType::kQ4_K, DType::kQ6_K}) {
    for (int64_t rows : {16, 48, 160}) {
      const int64_t cols = rows == 48 ? 1024 : 512;
      TestMatrix m = make_matrix(t, rows, cols, 11 + static_cast<uint32_t>(rows));
      Rows16Copy p = to_rows16(m.w);
      for (Isa isa : supported_isas()) {
        ASSERT_TRUE(set_isa(isa));
        for (int64_t nt : {1, 3, 8, 9, 21}) {
          const std::vector<float> x = random_floats(nt * cols, 5 + static_cast<uint32_t>(nt));
          std::vector<float> want(nt * rows), got(nt * rows, std::nanf(""));
          matmul(m.w, x.data(), cols, nt, want.data(), rows, pool);
          matmul(p.w, x.data(), cols, nt, got.data(), rows, pool);
          for (int64_t tk = 0; tk < nt; ++tk) {
            std::vector<float> absdot(rows);
            ASSERT_TRUE(ref::matvec_abs(m.w, x.data() + tk * cols, absdot.data()).is_ok());
            for (int64_t r = 0; r < rows; ++r) {
              ASSERT_NEAR(got[tk * rows + r], want[tk * rows + r], 1e-4 * absdot[r] + 1e-6)
                  << dtype_name(t) << " isa " << isa_name(isa) << " rows " << rows << " nt " << nt
                  << " token " << tk << " row " << r;
            }
          }
        }
      }
    }
  }
}

TEST(Rows16, ReferenceAndEmbeddingReadTheLayout) {
  for (DType t : {DType::kQ4_K, DType::kQ6_K}) {
    TestMatrix m = make_matrix(t, 32, 512, 3);
    Rows16Copy p = to_rows16(m.w);
    const std::vector<float> x = random_floats(512, 9);
    std::vector<float> a(32), b(32);
    ASSERT_TRUE(ref::matvec(m.w, x.data(), a.data()).is_ok());
    ASSERT_TRUE(ref::matvec(p.w, x.data(), b.data()).is_ok());
    EXPECT_EQ(a, b);
    std::vector<float> ea(512), eb(512);
    for (int64_t r : {0, 15, 16, 31}) {
      embedding_row(m.w, r, ea.data());
      embedding_row(p.w, r, eb.data());
      EXPECT_EQ(ea, eb) << "row " << r;
    }
  }
}

TEST(Rows16, BadMatricesAreRejected) {
  TestMatrix m = make_matrix(DType::kQ8_0, 32, 256, 1);
  m.w.layout = WeightLayout::kRows16;
  EXPECT_FALSE(check_matrix(m.w).is_ok()) << "no rows16 layout for Q8_0";
  TestMatrix k = make_matrix(DType::kQ4_K, 24, 256, 1);
  k.w.layout = WeightLayout::kRows16;
  EXPECT_FALSE(check_matrix(k.w).is_ok()) << "24 rows is not a whole number of bands";
  EXPECT_FALSE(rows16_preferred(DType::kQ8_0, 256, 256));
  EXPECT_FALSE(rows16_preferred(DType::kQ4_K, 250, 256));
  EXPECT_FALSE(rows16_preferred(DType::kQ4_K, 16, 256)) << "too few bands to share";
}

}  // namespace
}  // namespace hearth::kernels

namespace hearth::kernels {
namespace {

// matmul_shared_input must give exactly what separate matmuls give (same quantised input, same
// per-matrix split over the threads), whatever mix of layouts and row counts shares the pass,
// and fall back to separate products when the activation kinds differ.
TEST(MatmulSharedInput, EqualsSeparateProducts) {
  testing::IsaGuard guard;
  ThreadPool pool(2);
  const int64_t cols = 512;
  TestMatrix a = make_matrix(DType::kQ4_K, 160, cols, 1);  // rows16 where preferred
  TestMatrix b = make_matrix(DType::kQ4_K, 16, cols, 2);   // few rows: split by tokens
  TestMatrix c = make_matrix(DType::kQ6_K, 48, cols, 3);
  TestMatrix d = make_matrix(DType::kQ8_0, 32, cols, 4);  // another activation kind
  Rows16Copy ap = to_rows16(a.w);
  for (Isa isa : testing::supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (int64_t nt : {1, 5, 8, 300}) {
      const std::vector<float> x = random_floats(nt * cols, 77);
      for (bool mixed : {false, true}) {
        std::vector<const WeightMatrix*> ws = {&ap.w, &b.w, &c.w};
        if (mixed) ws.push_back(&d.w);
        std::vector<std::vector<float>> want(ws.size()), got(ws.size());
        std::vector<MatmulOutput> outs;
        for (size_t i = 0; i < ws.size(); ++i) {
          const int64_t ldy = ws[i]->rows + 3;
          want[i].assign(static_cast<size_t>(nt * ldy), 0.0f);
          got[i].assign(static_cast<size_t>(nt * ldy), 0.0f);
          matmul(*ws[i], x.data(), cols, nt, want[i].data(), ldy, pool);
          outs.push_back({ws[i], got[i].data(), ldy});
        }
        matmul_shared_input(outs, x.data(), cols, nt, pool);
        for (size_t i = 0; i < ws.size(); ++i) {
          EXPECT_EQ(got[i], want[i]) << isa_name(isa) << " nt " << nt << " matrix " << i
                                     << (mixed ? " (mixed kinds)" : "");
        }
      }
    }
  }
}

}  // namespace
}  // namespace hearth::kernels
