// Portable kernel set (no ISA flags): integer dot products over quantised activations written as
// plain loops, the fallback on CPUs without AVX2 and the model for the SIMD variants.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/float16.h"

namespace hearth::kernels {
namespace {

template <typename Load>
void dot_float_rows(int64_t n, Load load, const void* act, size_t stride, int nt, float* out) {
  for (int t = 0; t < nt; ++t) {
    const float* x = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) + t * stride);
    float acc[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      for (int k = 0; k < 8; ++k) acc[k] += load(i + k) * x[i + k];
    }
    for (; i < n; ++i) acc[0] += load(i) * x[i];
    float s = 0.0f;
    for (float a : acc) s += a;
    out[t] = s;
  }
}

void dot_f32(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out) {
  const float* wf = static_cast<const float*>(w);
  dot_float_rows(
      n, [wf](int64_t i) { return wf[i]; }, act, stride, nt, out);
}
void dot_f16(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out) {
  const uint16_t* wh = static_cast<const uint16_t*>(w);
  dot_float_rows(
      n, [wh](int64_t i) { return fp16_to_fp32(wh[i]); }, act, stride, nt, out);
}
void dot_bf16(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out) {
  const uint16_t* wh = static_cast<const uint16_t*>(w);
  dot_float_rows(
      n, [wh](int64_t i) { return bf16_to_fp32(wh[i]); }, act, stride, nt, out);
}

template <typename T>
const T* act_at(const void* act, size_t stride, int t) {
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(act) + t * stride);
}

void dot_q8_0(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out) {
  const BlockQ8_0* wb = static_cast<const BlockQ8_0*>(w);
  for (int t = 0; t < nt; ++t) {
    const ActQ8* xb = act_at<ActQ8>(act, stride, t);
    float s = 0.0f;
    for (int64_t b = 0; b < n / kQK; ++b) {
      int sum = 0;
      for (int i = 0; i < kQK; ++i) sum += wb[b].qs[i] * xb[b].qs[i];
      s += fp16_to_fp32(wb[b].d) * xb[b].d * static_cast<float>(sum);
    }
    out[t] = s;
  }
}

void dot_q4_0(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out) {
  const BlockQ4_0* wb = static_cast<const BlockQ4_0*>(w);
  for (int t = 0; t < nt; ++t) {
    const ActQ8* xb = act_at<ActQ8>(act, stride, t);
    float s = 0.0f;
    for (int64_t b = 0; b < n / kQK; ++b) {
      int sum = 0;
      for (int i = 0; i < kQK / 2; ++i) {
        sum += ((wb[b].qs[i] & 15) - 8) * xb[b].qs[i];
        sum += ((wb[b].qs[i] >> 4) - 8) * xb[b].qs[i + 16];
      }
      s += fp16_to_fp32(wb[b].d) * xb[b].d * static_cast<float>(sum);
    }
    out[t] = s;
  }
}

// 6-bit scale and min of sub-block j of a Q4_K / Q5_K super-block.
inline void scale_min_k4(int j, const uint8_t* q, int* sc, int* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
    *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Shared by Q4_K and Q5_K: hi_bits null for Q4_K.
template <typename Block, bool kHasHigh>
void dot_qk45(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out) {
  const Block* wb = static_cast<const Block*>(w);
  for (int t = 0; t < nt; ++t) {
    const ActQ8K* xb = act_at<ActQ8K>(act, stride, t);
    float s = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      int32_t sum_q = 0, sum_m = 0;
      for (int j = 0; j < 8; ++j) {
        int sc, mn;
        scale_min_k4(j, wb[b].scales, &sc, &mn);
        const int p = j / 2;
        const int shift = (j & 1) * 4;
        int sub = 0;
        for (int l = 0; l < 32; ++l) {
          int q = (wb[b].qs[32 * p + l] >> shift) & 15;
          if constexpr (kHasHigh) q += 16 * ((wb[b].qh[l] >> j) & 1);
          sub += q * xb[b].qs[32 * j + l];
        }
        sum_q += sc * sub;
        sum_m += mn * (xb[b].bsums[2 * j] + xb[b].bsums[2 * j + 1]);
      }
      s += xb[b].d * (fp16_to_fp32(wb[b].d) * static_cast<float>(sum_q) -
                      fp16_to_fp32(wb[b].dmin) * static_cast<float>(sum_m));
    }
    out[t] = s;
  }
}

void dot_q6_k(int64_t n, const void* w, const void* act, size_t stride, int nt, float* out) {
  const BlockQ6_K* wb = static_cast<const BlockQ6_K*>(w);
  for (int t = 0; t < nt; ++t) {
    const ActQ8K* xb = act_at<ActQ8K>(act, stride, t);
    float s = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      int32_t sum = 0;
      for (int half = 0; half < 2; ++half) {
        const uint8_t* L = wb[b].ql + 64 * half;
        const uint8_t* H = wb[b].qh + 32 * half;
        const int8_t* S = wb[b].scales + 8 * half;
        const int8_t* X = xb[b].qs + 128 * half;
        int sub[8] = {};
        for (int l = 0; l < 32; ++l) {
          const int si = l / 16;
          sub[si + 0] += (((L[l] & 15) | (((H[l] >> 0) & 3) << 4)) - 32) * X[l];
          sub[si + 2] += (((L[l + 32] & 15) | (((H[l] >> 2) & 3) << 4)) - 32) * X[l + 32];
          sub[si + 4] += (((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32) * X[l + 64];
          sub[si + 6] += (((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32) * X[l + 96];
        }
        for (int k = 0; k < 8; ++k) sum += S[k] * sub[k];
      }
      s += xb[b].d * fp16_to_fp32(wb[b].d) * static_cast<float>(sum);
    }
    out[t] = s;
  }
}

// ---- small ops ----
namespace g {  // own namespace: the public API has the same names

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv * (weight ? weight[i] : 1.0f);
}
void silu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}
void sigmoid(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
}
void softplus(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = std::max(x[i], 0.0f) + std::log1p(std::exp(-std::fabs(x[i])));
}
void swiglu(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}
void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += x[i] = std::exp(x[i] - mx);
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}
void add(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void mul(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
void scale(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}
void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
void rope_rotate(float* x, const float* c, const float* s, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a = x[i], b = x[i + half];
    x[i] = a * c[i] - b * s[i];
    x[i + half] = a * s[i] + b * c[i];
  }
}

void fp16_to_fp32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = hearth::fp16_to_fp32(x[i]);
}

float sum_stream(const float* x, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) acc[k] += x[i + k];
  }
  for (; i < n; ++i) acc[0] += x[i];
  float s = 0.0f;
  for (float a : acc) s += a;
  return s;
}

// Columns in blocks of 64 so the prediction / correction stay in a small local array.
void delta_rule_step(float* S, int64_t dk, int64_t dv, const float* q, const float* k,
                     const float* v, float decay, float beta, float* out) {
  constexpr int64_t kCols = 64;
  for (int64_t c0 = 0; c0 < dv; c0 += kCols) {
    const int64_t nc = std::min(kCols, dv - c0);
    float u[kCols] = {}, o[kCols] = {};
    for (int64_t i = 0; i < dk; ++i) {
      const float* s = S + i * dv + c0;
      for (int64_t j = 0; j < nc; ++j) u[j] += k[i] * s[j];
    }
    for (int64_t j = 0; j < nc; ++j) u[j] = beta * (v[c0 + j] - decay * u[j]);
    for (int64_t i = 0; i < dk; ++i) {
      float* s = S + i * dv + c0;
      for (int64_t j = 0; j < nc; ++j) {
        s[j] = decay * s[j] + k[i] * u[j];
        o[j] += q[i] * s[j];
      }
    }
    for (int64_t j = 0; j < nc; ++j) out[c0 + j] = o[j];
  }
}

}  // namespace g
}  // namespace

const KernelTable& generic_kernel_table() {
  static const KernelTable table = [] {
    KernelTable t{};
    t.quantize_act_q8 = ref::quantize_act_q8;
    t.quantize_act_q8k = ref::quantize_act_q8k;
    t.row_dot[static_cast<int>(WKind::kF32)] = dot_f32;
    t.row_dot[static_cast<int>(WKind::kF16)] = dot_f16;
    t.row_dot[static_cast<int>(WKind::kBF16)] = dot_bf16;
    t.row_dot[static_cast<int>(WKind::kQ8_0)] = dot_q8_0;
    t.row_dot[static_cast<int>(WKind::kQ4_0)] = dot_q4_0;
    t.row_dot[static_cast<int>(WKind::kQ4_K)] = dot_qk45<BlockQ4_K, false>;
    t.row_dot[static_cast<int>(WKind::kQ5_K)] = dot_qk45<BlockQ5_K, true>;
    t.row_dot[static_cast<int>(WKind::kQ6_K)] = dot_q6_k;
    t.rms_norm = g::rms_norm;
    t.silu = g::silu;
    t.sigmoid = g::sigmoid;
    t.softplus = g::softplus;
    t.swiglu = g::swiglu;
    t.softmax = g::softmax;
    t.add = g::add;
    t.mul = g::mul;
    t.scale = g::scale;
    t.axpy = g::axpy;
    t.dot = g::dot;
    t.rope_rotate = g::rope_rotate;
    t.delta_rule_step = g::delta_rule_step;
    t.sum_stream = g::sum_stream;
    t.fp16_to_fp32 = g::fp16_to_fp32;
    return t;
  }();
  return table;
}

}  // namespace hearth::kernels
