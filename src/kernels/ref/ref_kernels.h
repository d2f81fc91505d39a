// Scalar reference kernels: the test oracle for every ISA variant. Weight rows are dequantised
// with tensor/quant.h and dotted in double; small ops use std:: math in double. Slow on purpose.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "kernels/kernel_table.h"
#include "kernels/kernels.h"

namespace hearth::kernels::ref {

// The activation quantisers every ISA must match bit for bit (rule in kernel_table.h).
void quantize_act_q8(const float* x, ActQ8* y, int64_t n);
void quantize_act_q8k(const float* x, ActQ8K* y, int64_t n);

// y[r] = sum_c W[r][c] * x[c] in double over the dequantised weights. y: [rows].
Status matvec(const WeightMatrix& w, const float* x, float* y);
// As matvec, but x first goes through the same activation quantisation the fast kernels apply for
// this weight type (identity for float / fallback types): matches them up to f32 rounding.
Status matvec_act_quantized(const WeightMatrix& w, const float* x, float* y);
// Per row: sum_c |W[r][c] * x[c]| (after the same activation quantisation): scale for tolerances.
Status matvec_abs(const WeightMatrix& w, const float* x, float* y);
// x after the kernels' activation quantisation for weight type t (a copy for float types). out: [n]
void quantize_dequantize_act(DType t, const float* x, float* out, int64_t n);

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);
void silu(const float* x, float* y, int64_t n);
void sigmoid(const float* x, float* y, int64_t n);
void softplus(const float* x, float* y, int64_t n);
void swiglu(const float* gate, const float* up, float* y, int64_t n);
void softmax(float* x, int64_t n);
void add(const float* a, const float* b, float* y, int64_t n);
void mul(const float* a, const float* b, float* y, int64_t n);
void scale(float* x, float s, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);
float dot(const float* a, const float* b, int64_t n);
void rope_neox(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dims, int64_t pos,
               float theta);

}  // namespace hearth::kernels::ref
