// The only translation unit of the tests built with -mf16c: wraps the F16C conversions so the
// software fp16 routines can be checked against the hardware.
#include "f16c_helper.h"

#include <immintrin.h>

namespace hearth::test {

uint16_t f16c_fp32_to_fp16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

float f16c_fp16_to_fp32(uint16_t h) {
  return _cvtsh_ss(h);
}

}  // namespace hearth::test
