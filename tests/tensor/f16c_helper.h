// Hardware (F16C) half <-> float conversion, compiled with -mf16c in f16c_helper.cpp. Only call
// these after cpu_features().f16c says the instructions exist.
#pragma once

#include <cstdint>

namespace hearth::test {

uint16_t f16c_fp32_to_fp16(float f);  // round to nearest even (_cvtss_sh mode 0)
float f16c_fp16_to_fp32(uint16_t h);

}  // namespace hearth::test
