// Slow test: fp32_to_fp16 against the F16C hardware conversion for every one of the 2^32 float
// bit patterns (NaN payloads included). Skipped where the CPU has no F16C.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "base/cpu_features.h"
#include "f16c_helper.h"
#include "tensor/float16.h"

namespace hearth {
namespace {

TEST(Float16Exhaustive, EveryFloatMatchesF16c) {
  if (!cpu_features().f16c) GTEST_SKIP() << "CPU has no F16C";
  uint64_t mismatches = 0;
  uint32_t first_bad = 0;
  for (uint64_t b = 0; b <= 0xffffffffull; ++b) {
    const auto bits = static_cast<uint32_t>(b);
    float x;
    std::memcpy(&x, &bits, 4);
    if (fp32_to_fp16(x) != test::f16c_fp32_to_fp16(x)) {
      if (mismatches++ == 0) first_bad = bits;
    }
  }
  EXPECT_EQ(mismatches, 0u) << "first mismatch at float bits 0x" << std::hex << first_bad;
}

}  // namespace
}  // namespace hearth
