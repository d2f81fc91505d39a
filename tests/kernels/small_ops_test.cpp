// Small element-wise kernels on every ISA against the scalar reference (std:: math in double),
// with awkward lengths so the vector tails are exercised.
//
// Tolerances: add / mul / scale are exact (one f32 operation each). The vectorised exp is within
// ~2 ulp, so sigmoid / silu / swiglu / softmax get 4e-6 relative; sums (dot, rms_norm) 1e-5
// relative to the sum of magnitudes; axpy may fuse (FMA) so 1 ulp-ish.
#include <gtest/gtest.h>

#include <bit>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/float16.h"
#include "test_util.h"

namespace hearth::kernels {
namespace {

using testing::IsaGuard;
using testing::random_floats;
using testing::supported_isas;

const int64_t kSizes[] = {1, 7, 15, 16, 17, 1000};

// Values over the interesting range of the transcendental ops, with extremes mixed in.
std::vector<float> inputs(int64_t n, uint32_t seed) {
  std::vector<float> x = random_floats(n, seed, 6.0f);
  const float extremes[] = {0.0f, -0.0f, 30.0f, -30.0f, 88.0f, -87.0f, 100.0f, -100.0f, 1e-6f};
  for (int64_t i = 0; i < n; i += 13) x[i] = extremes[(i / 13) % 9];
  return x;
}

void expect_rel(const std::vector<float>& got, const std::vector<float>& want, double rel,
                double abs_tol = 1e-30) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], rel * std::fabs(want[i]) + abs_tol) << "i=" << i;
  }
}

template <typename Fn>
void for_each_isa_and_size(Fn&& fn) {
  IsaGuard guard;
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (int64_t n : kSizes) {
      SCOPED_TRACE(::testing::Message() << isa_name(isa) << " n=" << n);
      fn(n);
    }
  }
}

TEST(SmallOps, Elementwise) {
  for_each_isa_and_size([](int64_t n) {
    const auto a = random_floats(n, 1), b = random_floats(n, 2);
    std::vector<float> got(n), want(n);
    add(a.data(), b.data(), got.data(), n);
    ref::add(a.data(), b.data(), want.data(), n);
    EXPECT_EQ(got, want);
    mul(a.data(), b.data(), got.data(), n);
    ref::mul(a.data(), b.data(), want.data(), n);
    EXPECT_EQ(got, want);
    got = a, want = a;
    scale(got.data(), 0.37f, n);
    ref::scale(want.data(), 0.37f, n);
    EXPECT_EQ(got, want);
    got = b, want = b;
    axpy(-1.7f, a.data(), got.data(), n);
    ref::axpy(-1.7f, a.data(), want.data(), n);
    expect_rel(got, want, 1e-6, 1e-6);
    double mag = 0.0;
    for (int64_t i = 0; i < n; ++i) mag += std::fabs(a[i] * b[i]);
    EXPECT_NEAR(dot(a.data(), b.data(), n), ref::dot(a.data(), b.data(), n), 1e-5 * mag + 1e-7);
  });
}

TEST(SmallOps, RmsNorm) {
  for_each_isa_and_size([](int64_t n) {
    const auto x = random_floats(n, 3, 2.0f), w = random_floats(n, 4);
    std::vector<float> got(n), want(n);
    rms_norm(x.data(), w.data(), got.data(), n, 1e-6f);
    ref::rms_norm(x.data(), w.data(), want.data(), n, 1e-6f);
    expect_rel(got, want, 1e-5, 1e-7);
    rms_norm(x.data(), nullptr, got.data(), n, 1e-6f);
    ref::rms_norm(x.data(), nullptr, want.data(), n, 1e-6f);
    expect_rel(got, want, 1e-5, 1e-7);
    got = x;  // in place
    rms_norm(got.data(), nullptr, got.data(), n, 1e-6f);
    expect_rel(got, want, 1e-5, 1e-7);
  });
}

TEST(SmallOps, Transcendentals) {
  for_each_isa_and_size([](int64_t n) {
    const auto x = inputs(n, 5), u = random_floats(n, 6);
    std::vector<float> got(n), want(n);
    sigmoid(x.data(), got.data(), n);
    ref::sigmoid(x.data(), want.data(), n);
    expect_rel(got, want, 4e-6);
    silu(x.data(), got.data(), n);
    ref::silu(x.data(), want.data(), n);
    expect_rel(got, want, 4e-6, 1e-37);
    swiglu(x.data(), u.data(), got.data(), n);
    ref::swiglu(x.data(), u.data(), want.data(), n);
    expect_rel(got, want, 4e-6, 1e-37);
    softplus(x.data(), got.data(), n);
    ref::softplus(x.data(), want.data(), n);
    expect_rel(got, want, 2e-6);
    got = x;  // y aliases x
    silu(got.data(), got.data(), n);
    ref::silu(x.data(), want.data(), n);
    expect_rel(got, want, 4e-6, 1e-37);
  });
}

TEST(SmallOps, Softmax) {
  for_each_isa_and_size([](int64_t n) {
    auto got = random_floats(n, 8, 5.0f);
    got[0] = 40.0f;  // large logits must not overflow
    auto want = got;
    softmax(got.data(), n);
    ref::softmax(want.data(), n);
    expect_rel(got, want, 4e-6, 1e-12);
    double sum = 0.0;
    for (float v : got) sum += v;
    EXPECT_NEAR(sum, 1.0, 1e-5);
  });
}

TEST(SmallOps, RopeNeox) {
  IsaGuard guard;
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (auto [head_dim, rot] :
         {std::pair<int64_t, int64_t>{64, 32}, {128, 128}, {256, 64}, {10, 6}}) {
      for (int64_t pos : {0, 1, 37, 100000}) {
        SCOPED_TRACE(::testing::Message() << isa_name(isa) << " head_dim=" << head_dim
                                          << " rot=" << rot << " pos=" << pos);
        const int64_t heads = 3;
        const auto x = random_floats(heads * head_dim, 9);
        auto got = x, want = x;
        rope_neox(got.data(), heads, head_dim, rot, pos, 10000000.0f);
        ref::rope_neox(want.data(), heads, head_dim, rot, pos, 10000000.0f);
        for (int64_t h = 0; h < heads; ++h) {
          for (int64_t i = 0; i < head_dim; ++i) {
            const int64_t k = h * head_dim + i;
            if (i >= rot) {
              ASSERT_EQ(got[k], x[k]) << "unrotated dim changed at " << k;
            } else {
              ASSERT_NEAR(got[k], want[k], 2e-5) << k;
            }
          }
        }
      }
    }
  }
}

// The fused delta-rule step against the operation-by-operation definition in double, over
// column counts that hit the 32-, 8- and scalar-column paths and several steps in a row (the
// state carries over).
TEST(SmallOps, DeltaRuleStep) {
  IsaGuard guard;
  for (Isa isa : supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (int64_t dk : {1, 5, 128}) {
      for (int64_t dv : {1, 7, 8, 33, 72, 128}) {
        SCOPED_TRACE(::testing::Message() << isa_name(isa) << " dk=" << dk << " dv=" << dv);
        const uint32_t seed = static_cast<uint32_t>(dk * 1000 + dv);
        std::vector<float> S = random_floats(dk * dv, seed);
        std::vector<double> Sd(S.begin(), S.end());
        std::vector<double> m_scale(static_cast<size_t>(dv), 0.0);  // [dv] max sum |k S| so far
        for (int step = 0; step < 3; ++step) {
          const std::vector<float> q = random_floats(dk, seed + 10 * step + 1);
          const std::vector<float> k = random_floats(dk, seed + 10 * step + 2);
          const std::vector<float> v = random_floats(dv, seed + 10 * step + 3);
          const float decay = 0.9f - 0.2f * static_cast<float>(step), beta = 0.3f + 0.2f * step;
          std::vector<float> out(static_cast<size_t>(dv), -7.0f);
          delta_rule_step(S.data(), dk, dv, q.data(), k.data(), v.data(), decay, beta, out.data());
          // Reference: S *= decay; m = S^T k; u = beta (v - m); S += k u^T; out = S^T q.
          // The prediction S^T k is a dk-term f32 sum in the kernel: its rounding (relative to
          // sum |k S|, carried from step to step through S) bounds how far S can drift.
          std::vector<double> want(static_cast<size_t>(dv), 0.0), mag(static_cast<size_t>(dv), 0.0);
          for (auto& s : Sd) s *= decay;
          for (int64_t j = 0; j < dv; ++j) {
            double m = 0.0, m_mag = 0.0;
            for (int64_t i = 0; i < dk; ++i) {
              m += k[i] * Sd[i * dv + j];
              m_mag += std::fabs(k[i] * Sd[i * dv + j]);
            }
            m_scale[j] = std::max(m_scale[j], m_mag);
            const double u = beta * (v[j] - m);
            for (int64_t i = 0; i < dk; ++i) {
              Sd[i * dv + j] += k[i] * u;
              want[j] += q[i] * Sd[i * dv + j];
              mag[j] += std::fabs(q[i] * Sd[i * dv + j]);
            }
          }
          for (int64_t j = 0; j < dv; ++j) {
            ASSERT_NEAR(out[j], want[j], 1e-5 * (mag[j] + 1.0) + 1e-5 * m_scale[j] * mag[j])
                << "step " << step << " j " << j;
          }
          for (int64_t i = 0; i < dk * dv; ++i) {
            ASSERT_NEAR(S[i], Sd[i], 1e-5 * (std::fabs(Sd[i]) + 1.0 + m_scale[i % dv]))
                << "step " << step;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace hearth::kernels

namespace hearth::kernels {
namespace {

// Every one of the 65536 halves, on every ISA, at offsets that leave vector tails: exact against
// the portable conversion (tensor/float16.h), NaNs stay NaN.
TEST(SmallOps, Fp16ToFp32Exhaustive) {
  testing::IsaGuard guard;
  std::vector<uint16_t> all(65536 + 13);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i * 40503u);
  for (Isa isa : testing::supported_isas()) {
    ASSERT_TRUE(set_isa(isa));
    for (int64_t off : {0, 1, 7}) {
      const int64_t n = static_cast<int64_t>(all.size()) - off;
      std::vector<float> got(static_cast<size_t>(n) + 1, 123.0f);
      fp16_to_fp32_row(all.data() + off, got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const float want = fp16_to_fp32(all[static_cast<size_t>(off + i)]);
        if (std::isnan(want)) {
          ASSERT_TRUE(std::isnan(got[i])) << isa_name(isa) << " i " << i;
        } else {
          ASSERT_EQ(std::bit_cast<uint32_t>(want), std::bit_cast<uint32_t>(got[i]))
              << isa_name(isa) << " half 0x" << std::hex << all[static_cast<size_t>(off + i)];
        }
      }
      EXPECT_EQ(got[n], 123.0f) << "wrote past n";
    }
  }
}

}  // namespace
}  // namespace hearth::kernels
