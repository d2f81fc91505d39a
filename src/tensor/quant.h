// Reference (scalar) quantise / dequantise of whole rows for every supported DType.
// These are the bit-exact definitions; SIMD dot products in kernels/ are tested against them.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "tensor/dtype.h"

namespace hearth {

// dst[0..n) = values of the n elements at src. n must be a multiple of block_size(type).
// Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
Status dequantize_row(DType type, const void* src, float* dst, int64_t n);

// Encodes n floats as `type` into dst (row_bytes(type, n) bytes), matching ggml's reference
// quantisers (quantize_row_*_ref) in algorithm. n must be a multiple of block_size(type).
// Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
Status quantize_row(DType type, const float* src, void* dst, int64_t n);

bool can_quantize(DType type);
bool can_dequantize(DType type);

}  // namespace hearth
