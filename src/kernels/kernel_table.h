// Internal contract between the dispatcher (dispatch.cpp) and the per-ISA kernel sets
// (cpu/generic, cpu/x86_avx2, cpu/x86_avx512): the activation formats, the row-dot signatures
// and the table of function pointers each ISA fills in. Not part of the public kernel API.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/blocks.h"
#include "tensor/dtype.h"

namespace hearth::kernels {

// Q8_0-style activation block for legacy-quant dot products. Unlike ggml's BlockQ8_0 the scale is
// an f32 (it never goes to a file, and an f32 avoids an f16 convert in the inner loop).
struct ActQ8 {
  float d;
  int8_t qs[kQK];  // x[i] ~= d * qs[i]
};
static_assert(sizeof(ActQ8) == 36);

// Q8_K-style activation block for K-quant dot products: ggml's ActQ8K fields reordered and
// padded to 384 bytes so that qs is 64-byte aligned in a 64-byte aligned buffer (the dot products
// load it in 32/64-byte pieces; unaligned it would split a cache line on every load).
struct alignas(64) ActQ8K {
  int8_t qs[kQK_K];           // x[i] ~= d * qs[i]
  int16_t bsums[kQK_K / 16];  // sum of each group of 16 qs
  // d * bsums32[j] rounded once to f32: the Q4_K / Q5_K min term of one token becomes one f32
  // FMA per super-block (dmin * mins[j] * dsums32[j]) instead of an int dot plus its scaling.
  float dsums32[kQK_K / 32];
  int16_t bsums32[kQK_K / 32];  // sum of each group of 32 qs (the Q4_K / Q5_K mins)
  float d;
  uint8_t pad[44];  // zero (no implicit padding: the structs are compared with memcmp)
};
static_assert(sizeof(ActQ8K) == 384);

// Activation quantisation shared by every ISA so that all variants are bit-identical:
// d = amax / 127, q = round-half-even(x * (1 / d)) (what cvtps2dq does), computed in f32.
// Q8_K activations (ActQ8K) use the same rule over 256 elements (and fill bsums); a table may
// store the qs in its own order (KernelTable::q8k_interleaved).

// Weight kinds with a dedicated dot product; everything else goes through dequantise + F32.
enum class WKind : int { kF32 = 0, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K, kQ5_K, kQ6_K, kCount };

// Which activation representation a weight kind consumes.
enum class ActKind : int { kF32 = 0, kQ8 = 1, kQ8K = 2 };

// Dot products of one weight row (n elements, n a multiple of the block size) with nt activation
// vectors (1 <= nt <= kMaxTile). act points at activation vector 0; vector t starts at
// act + t * act_stride bytes (float[n], ActQ8[n/32] or ActQ8K[n/256] by kind). out[t] = dot.
// 4: measured against 8 on the 0.8B decode step with 8 streams (Zen 4), 8 was no faster (the
// weight tile is L1/L2-resident either way, and 8 tokens leave no registers for two chains);
// re-measured with the vpdpbusd K-quant kernels (2-3 registers per token): 8 was 5 % slower.
constexpr int kMaxTile = 4;
using RowDotFn = void (*)(int64_t n, const void* w, const void* act, size_t act_stride, int nt,
                          float* out);

// Dot products of one 16-row band in the rows16 layout (kernels/rows16.h) with nt activation
// vectors (1 <= nt <= kRows16MaxTile; act as for RowDotFn): out[t * 16 + r] = dot(row r, token t).
constexpr int kRows16MaxTile = 8;
using Rows16DotFn = void (*)(int64_t n, const void* band, const void* act, size_t act_stride,
                             int nt, float* out);

struct KernelTable {
  // Activation quantisers: n multiple of 32 / 256.
  void (*quantize_act_q8)(const float* x, ActQ8* y, int64_t n);
  void (*quantize_act_q8k)(const float* x, ActQ8K* y, int64_t n);
  RowDotFn row_dot[static_cast<int>(WKind::kCount)];
  // Fast products over rows16 bands; null where this ISA has none (the dispatcher then unpacks the
  // band to rows and uses row_dot). Non-null also means "repack matrices of this kind at load".
  Rows16DotFn rows16_dot[static_cast<int>(WKind::kCount)];

  void (*rms_norm)(const float* x, const float* weight, float* y, int64_t n, float eps);
  void (*silu)(const float* x, float* y, int64_t n);
  void (*sigmoid)(const float* x, float* y, int64_t n);
  void (*softplus)(const float* x, float* y, int64_t n);
  void (*swiglu)(const float* gate, const float* up, float* y, int64_t n);
  void (*softmax)(float* x, int64_t n);
  void (*add)(const float* a, const float* b, float* y, int64_t n);
  void (*mul)(const float* a, const float* b, float* y, int64_t n);
  void (*scale)(float* x, float s, int64_t n);
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  float (*dot)(const float* a, const float* b, int64_t n);
  // Rotates pairs (x[i], x[i + half]) of one head by (cos_t[i], sin_t[i]), i < half.
  void (*rope_rotate)(float* x, const float* cos_t, const float* sin_t, int64_t half);
  // One decode step of the gated delta rule on S [dk][dv] (see kernels.h delta_rule_step).
  void (*delta_rule_step)(float* S, int64_t dk, int64_t dv, const float* q, const float* k,
                          const float* v, float decay, float beta, float* out);
  // Sum of n floats with independent accumulators: the bandwidth probe's inner loop.
  float (*sum_stream)(const float* x, int64_t n);
  // IEEE half -> float, exact (subnormals included), n elements.
  void (*fp16_to_fp32)(const uint16_t* x, float* y, int64_t n);
  // ActQ8K.qs order: false = natural; true = within every 128 elements the 32-element groups
  // are stored as 0, 2, 1, 3 (AVX-512: a 64-byte load then matches one nibble plane of two
  // Q4_K sub-block pairs). bsums / bsums32 are always in natural order.
  bool q8k_interleaved;
};

// Each ISA file defines one of these; the x86 ones only when built for x86-64.
const KernelTable& generic_kernel_table();
#if defined(__x86_64__) || defined(_M_X64)
const KernelTable& avx2_kernel_table();
const KernelTable& avx512_kernel_table();
#endif

inline ActKind act_kind(WKind k) {
  switch (k) {
    case WKind::kQ8_0:
    case WKind::kQ4_0:
      return ActKind::kQ8;
    case WKind::kQ4_K:
    case WKind::kQ5_K:
    case WKind::kQ6_K:
      return ActKind::kQ8K;
    default:
      return ActKind::kF32;
  }
}

// The dedicated kernel for a weight type, or kCount when it goes through the dequantise fallback.
inline WKind wkind_of(DType t) {
  switch (t) {
    case DType::kF32:
      return WKind::kF32;
    case DType::kF16:
      return WKind::kF16;
    case DType::kBF16:
      return WKind::kBF16;
    case DType::kQ8_0:
      return WKind::kQ8_0;
    case DType::kQ4_0:
      return WKind::kQ4_0;
    case DType::kQ4_K:
      return WKind::kQ4_K;
    case DType::kQ5_K:
      return WKind::kQ5_K;
    case DType::kQ6_K:
      return WKind::kQ6_K;
    default:
      return WKind::kCount;
  }
}

// Bytes of one activation vector of n elements in the given representation.
inline size_t act_row_bytes(ActKind k, int64_t n) {
  switch (k) {
    case ActKind::kQ8:
      return static_cast<size_t>(n / kQK) * sizeof(ActQ8);
    case ActKind::kQ8K:
      return static_cast<size_t>(n / kQK_K) * sizeof(ActQ8K);
    default:
      return static_cast<size_t>(n) * sizeof(float);
  }
}

}  // namespace hearth::kernels
