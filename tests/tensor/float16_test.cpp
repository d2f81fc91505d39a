// Tests for tensor/float16.h: exhaustive fp16/bf16 round trips, nearest-even rounding (ties,
// subnormals, overflow), inf/NaN, and agreement with the F16C hardware conversion when present.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "base/cpu_features.h"
#include "tensor/float16.h"
#ifdef HEARTH_TEST_HAVE_F16C_HELPER
#include "f16c_helper.h"
#endif

namespace hearth {
namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

bool half_is_nan(uint16_t h) {
  return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
}

// Independent decoding of a finite half: (-1)^s * m * 2^(e-25), m with the hidden bit.
double half_value(uint16_t h) {
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  const double mag = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(mant + 1024, exp - 25);
  return (h & 0x8000u) ? -mag : mag;
}

TEST(Float16, KnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x3555), 0.333251953125f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(fp16_to_fp32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_fp32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7e00)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0xfc01)));
  EXPECT_EQ(bits_of(fp16_to_fp32(0x8000)), 0x80000000u);  // -0 keeps its sign
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
}

TEST(Float16, ExhaustiveDecodeAndRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<uint16_t>(h);
    const float f = fp16_to_fp32(half);
    if (half_is_nan(half)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      const uint16_t back = fp32_to_fp16(f);
      ASSERT_TRUE(half_is_nan(back)) << std::hex << h;
      ASSERT_EQ(back & 0x8000u, h & 0x8000u) << std::hex << h;
      continue;
    }
    if ((h & 0x7fffu) == 0x7c00u) {
      ASSERT_TRUE(std::isinf(f)) << std::hex << h;
    } else {
      ASSERT_EQ(static_cast<double>(f), half_value(half)) << std::hex << h;
    }
    ASSERT_EQ(fp32_to_fp16(f), half) << std::hex << h;
  }
}

// Between every pair of adjacent finite halfs: the exact midpoint rounds to the even one, and
// the floats just either side of it round to the nearer one. Covers subnormals and the
// subnormal/normal boundary.
TEST(Float16, RoundingTiesToEvenEverywhere) {
  for (uint32_t sign : {0u, 0x8000u}) {
    for (uint32_t mag = 0; mag < 0x7bff; ++mag) {
      const auto lo = static_cast<uint16_t>(sign | mag);
      const auto hi = static_cast<uint16_t>(sign | (mag + 1));
      const float a = fp16_to_fp32(lo);
      const float b = fp16_to_fp32(hi);
      const float mid = static_cast<float>((static_cast<double>(a) + b) / 2);  // exact in float
      ASSERT_EQ(static_cast<double>(mid), (static_cast<double>(a) + b) / 2);
      const uint16_t even = (mag & 1u) ? hi : lo;
      ASSERT_EQ(fp32_to_fp16(mid), even) << std::hex << mag;
      ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, a)), lo) << std::hex << mag;
      ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, b)), hi) << std::hex << mag;
    }
  }
}

TEST(Float16, UnderflowOverflowInfNan) {
  const float tiny = std::ldexp(1.0f, -25);  // half of the smallest subnormal
  EXPECT_EQ(fp32_to_fp16(tiny), 0x0000);     // tie -> even (zero)
  EXPECT_EQ(fp32_to_fp16(-tiny), 0x8000);
  EXPECT_EQ(fp32_to_fp16(std::nextafter(tiny, 1.0f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp: tie -> 2
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -26)), 0x0001);  // 0.75 ulp -> 1
  EXPECT_EQ(fp32_to_fp16(65519.996f), 0x7bff);             // below the 65504/inf midpoint
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);               // midpoint: odd 65504 rounds up to inf
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xfc00);
  for (uint32_t nan_bits : {0x7fc00000u, 0x7f800001u, 0xffc00000u, 0x7fffffffu, 0x7f802000u}) {
    const uint16_t h = fp32_to_fp16(float_of(nan_bits));
    EXPECT_TRUE(half_is_nan(h)) << std::hex << nan_bits;  // even a payload below bit 13
    EXPECT_EQ(h & 0x8000u, (nan_bits >> 16) & 0x8000u);
  }
}

// Random floats of every magnitude: the result is a nearest half, ties to even.
TEST(Float16, RandomFloatsRoundToNearest) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 200000; ++i) {
    const float x = float_of(rng());
    if (!std::isfinite(x) || std::fabs(x) >= 65520.0f) continue;
    const uint16_t h = fp32_to_fp16(x);
    ASSERT_FALSE(half_is_nan(h));
    const double err = std::fabs(x - half_value(h));
    const uint32_t mag = h & 0x7fffu;
    for (int step : {-1, 1}) {
      if ((mag == 0 && step < 0) || (mag == 0x7bff && step > 0)) continue;
      const auto other = static_cast<uint16_t>((h & 0x8000u) | (mag + step));
      const double other_err = std::fabs(x - half_value(other));
      ASSERT_LE(err, other_err) << x;
      if (err == other_err) {
        ASSERT_EQ(h & 1u, 0u) << x;
      }
    }
  }
}

TEST(Float16, MatchesF16cHardware) {
#ifdef HEARTH_TEST_HAVE_F16C_HELPER
  if (!cpu_features().f16c) GTEST_SKIP() << "CPU has no F16C";
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<uint16_t>(h);
    const float soft = fp16_to_fp32(half);
    const float hard = test::f16c_fp16_to_fp32(half);
    if (half_is_nan(half)) {
      ASSERT_TRUE(std::isnan(soft) && std::isnan(hard));
    } else {
      ASSERT_EQ(bits_of(soft), bits_of(hard)) << std::hex << h;
    }
  }
  // Every 4093rd float bit pattern (~1M, all exponents, NaN payloads included) plus the
  // midpoints between adjacent halfs and their neighbours.
  for (uint64_t b = 0; b <= 0xffffffffull; b += 4093) {
    const float x = float_of(static_cast<uint32_t>(b));
    ASSERT_EQ(fp32_to_fp16(x), test::f16c_fp32_to_fp16(x)) << std::hex << b;
  }
  for (uint32_t mag = 0; mag < 0x7c00; ++mag) {
    const double mid =
        (half_value(static_cast<uint16_t>(mag)) + half_value(static_cast<uint16_t>(mag + 1))) / 2;
    for (float x : {static_cast<float>(mid), std::nextafter(static_cast<float>(mid), 0.0f),
                    std::nextafter(static_cast<float>(mid), 1e30f)}) {
      ASSERT_EQ(fp32_to_fp16(x), test::f16c_fp32_to_fp16(x)) << x;
      ASSERT_EQ(fp32_to_fp16(-x), test::f16c_fp32_to_fp16(-x)) << -x;
    }
  }
#else
  GTEST_SKIP() << "not an x86-64 build";
#endif
}

TEST(BFloat16, ExhaustiveRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<uint16_t>(h);
    const float f = bf16_to_fp32(half);
    ASSERT_EQ(bits_of(f), h << 16);
    const uint16_t back = fp32_to_bf16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16_to_fp32(back))) << std::hex << h;  // quieted, still NaN
      ASSERT_EQ(back & 0x8000u, h & 0x8000u);
    } else {
      ASSERT_EQ(back, half) << std::hex << h;
    }
  }
}

TEST(BFloat16, RoundingTiesToEvenAndNan) {
  // 1 + 2^-8 lies exactly between bf16 1.0 (0x3f80, even) and 1 + 2^-7 (0x3f81).
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);  // tie between 81 and 82
  EXPECT_EQ(fp32_to_bf16(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)), 0x3f81);
  EXPECT_EQ(fp32_to_bf16(float_of(0x0000ffffu)), 0x0001);  // subnormal rounds up
  EXPECT_EQ(fp32_to_bf16(float_of(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  // A signalling NaN whose payload lies only in the low 16 bits must not become infinity.
  const uint16_t q = fp32_to_bf16(float_of(0x7f800001u));
  EXPECT_TRUE(std::isnan(bf16_to_fp32(q)));
  std::mt19937 rng(99);
  for (int i = 0; i < 200000; ++i) {
    const uint32_t b = rng();
    const float x = float_of(b);
    if (!std::isfinite(x)) continue;
    const uint16_t h = fp32_to_bf16(x);
    const double err = std::fabs(static_cast<double>(x) - bf16_to_fp32(h));
    // Neighbours in magnitude (same sign); skip when h overflowed to infinity.
    if ((h & 0x7fffu) >= 0x7f80u) continue;
    for (int step : {-1, 1}) {
      const uint32_t mag = (h & 0x7fffu) + step;
      if (mag > 0x7f7fu || ((h & 0x7fffu) == 0 && step < 0)) continue;
      const auto other = static_cast<uint16_t>((h & 0x8000u) | mag);
      const double other_err = std::fabs(static_cast<double>(x) - bf16_to_fp32(other));
      ASSERT_LE(err, other_err) << std::hex << b;
      if (err == other_err) {
        ASSERT_EQ(h & 1u, 0u) << std::hex << b;
      }
    }
  }
}

}  // namespace
}  // namespace hearth
