// Hand-built blocks -> dequantised values. Expected values come from the §10 formulas of
// shared/docs/qwen35-architecture.md, written per output element (not per loop as in
// src/tensor), in ggml's float operation order, so a match is bit-exactness with
// dequantize_row_*. Random bytes (with random f16 scales), all-ones and all-zero blocks cover
// every nibble, high-bit and packed-scale path; a few literal values guard the formulas themselves.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/float16.h"
#include "tensor/quant.h"

namespace hearth {
namespace {

// Random finite f16 with magnitude in [2^-12, 2^3): realistic scales, every mantissa bit.
uint16_t random_scale(std::mt19937& rng, bool allow_negative) {
  const uint32_t exp = 3 + rng() % 15;  // biased exponent 3..17
  const uint32_t mant = rng() & 0x3ff;
  const uint32_t sign = allow_negative && (rng() & 1) ? 0x8000u : 0u;
  return static_cast<uint16_t>(sign | (exp << 10) | mant);
}

// nblocks blocks: block 0 and 1 random bytes, block 2 all 0xff, block 3 all 0x00; f16 scale
// fields of every block are then overwritten through set_scales(block, rng).
template <typename Block>
std::vector<Block> make_blocks(uint32_t seed,
                               const std::function<void(Block&, std::mt19937&)>& set_scales) {
  std::mt19937 rng(seed);
  std::vector<Block> blocks(4);
  for (size_t b = 0; b < blocks.size(); ++b) {
    auto* bytes = reinterpret_cast<uint8_t*>(&blocks[b]);
    for (size_t i = 0; i < sizeof(Block); ++i) {
      bytes[i] = b < 2 ? static_cast<uint8_t>(rng()) : b == 2 ? 0xff : 0x00;
    }
    set_scales(blocks[b], rng);
  }
  return blocks;
}

template <typename Block>
std::vector<float> dequantize(DType type, const std::vector<Block>& blocks) {
  const int64_t n = static_cast<int64_t>(blocks.size()) * block_size(type);
  std::vector<float> out(static_cast<size_t>(n), -12345.0f);
  Status st = dequantize_row(type, blocks.data(), out.data(), n);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return out;
}

template <typename Block>
void expect_matches(DType type, const std::vector<Block>& blocks,
                    const std::function<float(const Block&, int)>& expected) {
  const std::vector<float> got = dequantize(type, blocks);
  const int bs = static_cast<int>(block_size(type));
  for (size_t b = 0; b < blocks.size(); ++b) {
    for (int k = 0; k < bs; ++k) {
      ASSERT_EQ(got[b * bs + k], expected(blocks[b], k))
          << dtype_name(type) << " block " << b << " element " << k;
    }
  }
}

float h2f(uint16_t h) {
  return fp16_to_fp32(h);
}

// ---- legacy types: element k of 32; nibble k < 16 ? low(qs[k]) : high(qs[k-16]).
int nibble(const uint8_t* qs, int k) {
  return k < 16 ? (qs[k] & 15) : (qs[k - 16] >> 4);
}
int bit5(const uint8_t* qh, int k) {
  return (qh[k / 8] >> (k % 8)) & 1;
}

TEST(DequantizeBlocks, Q4_0) {
  auto blocks =
      make_blocks<BlockQ4_0>(1, [](BlockQ4_0& b, std::mt19937& r) { b.d = random_scale(r, true); });
  expect_matches<BlockQ4_0>(DType::kQ4_0, blocks, [](const BlockQ4_0& b, int k) {
    return static_cast<float>(nibble(b.qs, k) - 8) * h2f(b.d);
  });
}

TEST(DequantizeBlocks, Q4_1) {
  auto blocks = make_blocks<BlockQ4_1>(2, [](BlockQ4_1& b, std::mt19937& r) {
    b.d = random_scale(r, false);
    b.m = random_scale(r, true);
  });
  expect_matches<BlockQ4_1>(DType::kQ4_1, blocks, [](const BlockQ4_1& b, int k) {
    return static_cast<float>(nibble(b.qs, k)) * h2f(b.d) + h2f(b.m);
  });
}

TEST(DequantizeBlocks, Q5_0) {
  auto blocks =
      make_blocks<BlockQ5_0>(3, [](BlockQ5_0& b, std::mt19937& r) { b.d = random_scale(r, true); });
  expect_matches<BlockQ5_0>(DType::kQ5_0, blocks, [](const BlockQ5_0& b, int k) {
    const int q = nibble(b.qs, k) | (bit5(b.qh, k) << 4);
    return static_cast<float>(q - 16) * h2f(b.d);
  });
}

TEST(DequantizeBlocks, Q5_1) {
  auto blocks = make_blocks<BlockQ5_1>(4, [](BlockQ5_1& b, std::mt19937& r) {
    b.d = random_scale(r, false);
    b.m = random_scale(r, true);
  });
  expect_matches<BlockQ5_1>(DType::kQ5_1, blocks, [](const BlockQ5_1& b, int k) {
    const int q = nibble(b.qs, k) | (bit5(b.qh, k) << 4);
    return static_cast<float>(q) * h2f(b.d) + h2f(b.m);
  });
}

TEST(DequantizeBlocks, Q8_0) {
  auto blocks =
      make_blocks<BlockQ8_0>(5, [](BlockQ8_0& b, std::mt19937& r) { b.d = random_scale(r, true); });
  expect_matches<BlockQ8_0>(DType::kQ8_0, blocks, [](const BlockQ8_0& b, int k) {
    return static_cast<float>(b.qs[k]) * h2f(b.d);
  });
}

// ---- K-quants. Q2_K / Q3_K / Q6_K: 16 sub-blocks of 16; element k -> half = k / 128,
// j = (k % 128) / 32 (2-bit plane), part = (k % 32) / 16, l = k % 16.

TEST(DequantizeBlocks, Q2_K) {
  auto blocks = make_blocks<BlockQ2_K>(6, [](BlockQ2_K& b, std::mt19937& r) {
    b.d = random_scale(r, false);
    b.dmin = random_scale(r, false);
  });
  expect_matches<BlockQ2_K>(DType::kQ2_K, blocks, [](const BlockQ2_K& b, int k) {
    const int half = k / 128, j = (k % 128) / 32, part = (k % 32) / 16, l = k % 16;
    const uint8_t sc = b.scales[8 * half + 2 * j + part];
    const int q = (b.qs[32 * half + 16 * part + l] >> (2 * j)) & 3;
    const float dl = h2f(b.d) * static_cast<float>(sc & 15);
    const float ml = h2f(b.dmin) * static_cast<float>(sc >> 4);
    return dl * static_cast<float>(q) - ml;
  });
}

// §10 Q3_K scale unpacking for scale i.
int q3k_scale_ref(const uint8_t* scales, int i) {
  const int low4 = i < 8 ? (scales[i] & 15) : (scales[i - 8] >> 4);
  const int high2 = (scales[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low4 | (high2 << 4)) - 32;
}

TEST(DequantizeBlocks, Q3_K) {
  auto blocks =
      make_blocks<BlockQ3_K>(7, [](BlockQ3_K& b, std::mt19937& r) { b.d = random_scale(r, true); });
  expect_matches<BlockQ3_K>(DType::kQ3_K, blocks, [](const BlockQ3_K& b, int k) {
    const int half = k / 128, j = (k % 128) / 32, part = (k % 32) / 16, l = k % 16;
    const int q = (b.qs[32 * half + 16 * part + l] >> (2 * j)) & 3;
    const bool high = (b.hmask[16 * part + l] >> (4 * half + j)) & 1;
    const float dl =
        h2f(b.d) * static_cast<float>(q3k_scale_ref(b.scales, 8 * half + 2 * j + part));
    return dl * static_cast<float>(q - (high ? 0 : 4));
  });
}

// §10 Q4_K / Q5_K 6-bit scale and min of sub-block j.
void scale_min_ref(const uint8_t* s, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

TEST(DequantizeBlocks, Q4_K) {
  auto blocks = make_blocks<BlockQ4_K>(8, [](BlockQ4_K& b, std::mt19937& r) {
    b.d = random_scale(r, false);
    b.dmin = random_scale(r, false);
  });
  expect_matches<BlockQ4_K>(DType::kQ4_K, blocks, [](const BlockQ4_K& b, int k) {
    const int p = k / 64, upper = (k % 64) / 32, l = k % 32;
    int sc, mn;
    scale_min_ref(b.scales, 2 * p + upper, &sc, &mn);
    const int q = upper ? (b.qs[32 * p + l] >> 4) : (b.qs[32 * p + l] & 15);
    const float d1 = h2f(b.d) * static_cast<float>(sc);
    const float m1 = h2f(b.dmin) * static_cast<float>(mn);
    return d1 * static_cast<float>(q) - m1;
  });
}

TEST(DequantizeBlocks, Q5_K) {
  auto blocks = make_blocks<BlockQ5_K>(9, [](BlockQ5_K& b, std::mt19937& r) {
    b.d = random_scale(r, false);
    b.dmin = random_scale(r, false);
  });
  expect_matches<BlockQ5_K>(DType::kQ5_K, blocks, [](const BlockQ5_K& b, int k) {
    const int p = k / 64, upper = (k % 64) / 32, l = k % 32;
    const int sub = 2 * p + upper;
    int sc, mn;
    scale_min_ref(b.scales, sub, &sc, &mn);
    const int q =
        (upper ? (b.qs[32 * p + l] >> 4) : (b.qs[32 * p + l] & 15)) + 16 * ((b.qh[l] >> sub) & 1);
    const float d1 = h2f(b.d) * static_cast<float>(sc);
    const float m1 = h2f(b.dmin) * static_cast<float>(mn);
    return d1 * static_cast<float>(q) - m1;
  });
}

TEST(DequantizeBlocks, Q6_K) {
  auto blocks = make_blocks<BlockQ6_K>(
      10, [](BlockQ6_K& b, std::mt19937& r) { b.d = random_scale(r, true); });
  expect_matches<BlockQ6_K>(DType::kQ6_K, blocks, [](const BlockQ6_K& b, int k) {
    const int half = k / 128, g = (k % 128) / 32, l = k % 32;
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int8_t* s = b.scales + 8 * half;
    const uint8_t low_byte = ql[l + 32 * (g % 2)];
    const int low = g < 2 ? (low_byte & 15) : (low_byte >> 4);
    const int q = (low | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
    return h2f(b.d) * static_cast<float>(s[l / 16 + 2 * g]) * static_cast<float>(q);
  });
}

TEST(DequantizeBlocks, Q8_K) {
  auto blocks = make_blocks<BlockQ8_K>(11, [](BlockQ8_K& b, std::mt19937& r) {
    b.d = h2f(random_scale(r, true)) * 1.0009765625f;  // not an f16: Q8_K's d is f32
  });
  expect_matches<BlockQ8_K>(DType::kQ8_K, blocks, [](const BlockQ8_K& b, int k) {
    return b.d * static_cast<float>(b.qs[k]);
  });
}

TEST(DequantizeBlocks, PlainTypes) {
  const float f32[3] = {1.5f, -0.0f, 3.25e-20f};
  const uint16_t f16[3] = {0x3c00, 0x8001, 0x7bff};
  const uint16_t bf16[3] = {0x3f80, 0xc0a0, 0x0001};
  float out[3];
  ASSERT_TRUE(dequantize_row(DType::kF32, f32, out, 3).is_ok());
  EXPECT_EQ(std::memcmp(out, f32, sizeof(out)), 0);
  ASSERT_TRUE(dequantize_row(DType::kF16, f16, out, 3).is_ok());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -std::ldexp(1.0f, -24));
  EXPECT_EQ(out[2], 65504.0f);
  ASSERT_TRUE(dequantize_row(DType::kBF16, bf16, out, 3).is_ok());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -5.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -133));
  // Rows in a mapped file may start at an odd address.
  uint8_t odd[1 + sizeof(f16)];
  std::memcpy(odd + 1, f16, sizeof(f16));
  ASSERT_TRUE(dequantize_row(DType::kF16, odd + 1, out, 3).is_ok());
  EXPECT_EQ(out[2], 65504.0f);
  ASSERT_TRUE(quantize_row(DType::kBF16, out, odd + 1, 3).is_ok());
  uint16_t back[3];
  std::memcpy(back, odd + 1, sizeof(back));
  EXPECT_EQ(back[0], 0x3f80);
}

// ---- literal values worked out by hand from §10 (scales chosen so every product is exact).

TEST(DequantizeBlocks, LiteralValues) {
  std::vector<float> y(256);
  {
    BlockQ4_0 b{};
    b.d = 0x3800;  // 0.5
    b.qs[0] = 0x1f;
    ASSERT_TRUE(dequantize_row(DType::kQ4_0, &b, y.data(), 32).is_ok());
    EXPECT_EQ(y[0], 3.5f);    // 0.5 * (15 - 8)
    EXPECT_EQ(y[16], -3.5f);  // 0.5 * (1 - 8)
    EXPECT_EQ(y[1], -4.0f);   // 0.5 * (0 - 8)
  }
  {
    BlockQ5_0 b{};
    b.d = 0x3800;
    b.qs[4] = 0x30;
    b.qh[2] = 0x10;  // bit 20 -> fifth bit of element 20
    ASSERT_TRUE(dequantize_row(DType::kQ5_0, &b, y.data(), 32).is_ok());
    EXPECT_EQ(y[20], 1.5f);  // 0.5 * ((3 | 16) - 16)
    EXPECT_EQ(y[4], -8.0f);  // 0.5 * (0 - 16)
  }
  {
    BlockQ2_K b{};
    b.d = 0x4000;     // 2
    b.dmin = 0x3800;  // 0.5
    b.scales[12] = 0x93;
    b.qs[40] = 0x20;  // element 200: half 1, plane 2, part 0, l 8
    ASSERT_TRUE(dequantize_row(DType::kQ2_K, &b, y.data(), 256).is_ok());
    EXPECT_EQ(y[200], 7.5f);   // 2 * 3 * 2 - 0.5 * 9
    EXPECT_EQ(y[199], -4.5f);  // q 0 in the same sub-block
  }
  {
    BlockQ3_K b{};
    b.d = 0x3800;         // 0.5
    b.scales[2] = 0x70;   // scale 10 low nibble 7; scale 2 low nibble 0
    b.scales[10] = 0x30;  // scale 10 high bits 3; scales 2, 6, 14 high bits 0
    b.qs[32] = 0x08;      // element 160: half 1, plane 1 -> q 2
    b.hmask[0] = 0x20;    // high bit of element 160 set (bit 4*1 + 1)
    ASSERT_TRUE(dequantize_row(DType::kQ3_K, &b, y.data(), 256).is_ok());
    EXPECT_EQ(y[160], 23.0f);  // 0.5 * (55 - 32) * 2
    EXPECT_EQ(y[32], 64.0f);   // scale 2: 0.5 * (0 - 32) * (0 - 4)
  }
  {
    BlockQ4_K b{};
    b.d = 0x3c00;        // 1
    b.dmin = 0x3800;     // 0.5
    b.scales[1] = 0xc5;  // sc1 = 5, top bits 3 -> sc5
    b.scales[5] = 0x87;  // mn1 = 7, top bits 2 -> mn5
    b.scales[9] = 0xa4;  // sc5 low 4, mn5 low 10
    b.qs[0] = 0x30;      // element 32 (sub-block 1) = 3
    b.qs[64] = 0x90;     // element 160 (sub-block 5) = 9
    ASSERT_TRUE(dequantize_row(DType::kQ4_K, &b, y.data(), 256).is_ok());
    EXPECT_EQ(y[32], 11.5f);    // 1 * 5 * 3 - 0.5 * 7
    EXPECT_EQ(y[160], 447.0f);  // 1 * 52 * 9 - 0.5 * 42
    EXPECT_EQ(y[128], 0.0f);
  }
  {
    BlockQ5_K b{};
    b.d = 0x3800;     // 0.5
    b.dmin = 0x3c00;  // 1
    b.scales[3] = 10;
    b.scales[7] = 4;
    b.qs[36] = 0x70;  // element 100: sub-block 3, high nibble 7
    b.qh[4] = 0x08;   // fifth bit of sub-block 3
    ASSERT_TRUE(dequantize_row(DType::kQ5_K, &b, y.data(), 256).is_ok());
    EXPECT_EQ(y[100], 111.0f);  // 0.5 * 10 * 23 - 4
  }
  {
    BlockQ6_K b{};
    b.d = 0x3400;  // 0.25
    b.scales[13] = -3;
    b.ql[81] = 0xa0;  // element 209: half 1, group 2, l 17 -> high nibble of ql[64 + 17]
    b.qh[49] = 0x30;  // bits 4-5 of qh[32 + 17]
    ASSERT_TRUE(dequantize_row(DType::kQ6_K, &b, y.data(), 256).is_ok());
    EXPECT_EQ(y[209], -19.5f);  // 0.25 * -3 * (58 - 32)
  }
  {
    BlockQ8_K b{};
    b.d = 0.125f;
    b.qs[7] = -100;
    ASSERT_TRUE(dequantize_row(DType::kQ8_K, &b, y.data(), 256).is_ok());
    EXPECT_EQ(y[7], -12.5f);
    EXPECT_EQ(y[8], 0.0f);
  }
}

}  // namespace
}  // namespace hearth
