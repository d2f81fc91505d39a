// Scalar reference kernels (see ref_kernels.h): obviously-correct loops, double accumulation.
#include "kernels/ref/ref_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/rows16.h"
#include "tensor/quant.h"

namespace hearth::kernels::ref {

void quantize_act_q8(const float* x, ActQ8* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    float amax = 0.0f;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = d;
    for (int i = 0; i < kQK; ++i) y[b].qs[i] = static_cast<int8_t>(std::lrintf(xb[i] * id));
  }
}

void quantize_act_q8k(const float* x, ActQ8K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* xb = x + b * kQK_K;
    float amax = 0.0f;
    for (int i = 0; i < kQK_K; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = d;
    std::memset(y[b].pad, 0, sizeof(y[b].pad));
    for (int i = 0; i < kQK_K; ++i) y[b].qs[i] = static_cast<int8_t>(std::lrintf(xb[i] * id));
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += y[b].qs[g * 16 + i];
      y[b].bsums[g] = static_cast<int16_t>(sum);
    }
    for (int g = 0; g < kQK_K / 32; ++g) {
      y[b].bsums32[g] = static_cast<int16_t>(y[b].bsums[2 * g] + y[b].bsums[2 * g + 1]);
      y[b].dsums32[g] = d * static_cast<float>(y[b].bsums32[g]);
    }
  }
}

void quantize_dequantize_act(DType t, const float* x, float* out, int64_t n) {
  const WKind k = wkind_of(t);
  const ActKind a = k == WKind::kCount ? ActKind::kF32 : act_kind(k);
  if (a == ActKind::kQ8) {
    std::vector<ActQ8> q(static_cast<size_t>(n / kQK));
    quantize_act_q8(x, q.data(), n);
    for (int64_t i = 0; i < n; ++i) out[i] = q[i / kQK].d * q[i / kQK].qs[i % kQK];
  } else if (a == ActKind::kQ8K) {
    std::vector<ActQ8K> q(static_cast<size_t>(n / kQK_K));
    quantize_act_q8k(x, q.data(), n);
    for (int64_t i = 0; i < n; ++i) out[i] = q[i / kQK_K].d * q[i / kQK_K].qs[i % kQK_K];
  } else {
    std::copy(x, x + n, out);
  }
}

namespace {

Status check(const WeightMatrix& w) {
  if (!can_dequantize(w.type)) {
    return invalid_argument_error(str_format("ref: cannot dequantise %s", dtype_name(w.type)));
  }
  if (w.cols % block_size(w.type) != 0) {
    return invalid_argument_error("ref: cols not a multiple of the block size");
  }
  return Status::ok();
}

template <typename Fn>
Status for_each_row(const WeightMatrix& w, Fn&& fn) {
  HEARTH_RETURN_IF_ERROR(check(w));
  std::vector<float> row(static_cast<size_t>(w.cols));
  std::vector<uint8_t> packed;  // one row-major row read back from a rows16 matrix
  const bool rows16 = w.layout == WeightLayout::kRows16;
  if (rows16) {
    if (!rows16_layout_exists(w.type) || w.rows % kRows16 != 0) {
      return invalid_argument_error("ref: rows16 matrix of a type/shape without that layout");
    }
    packed.resize(row_bytes(w.type, w.cols));
  }
  for (int64_t r = 0; r < w.rows; ++r) {
    const void* src = w.row(r);
    if (rows16) {
      unpack_rows16_row(w.type, w.data, w.cols, r, packed.data());
      src = packed.data();
    }
    HEARTH_RETURN_IF_ERROR(dequantize_row(w.type, src, row.data(), w.cols));
    fn(r, row.data());
  }
  return Status::ok();
}

}  // namespace

Status matvec(const WeightMatrix& w, const float* x, float* y) {
  return for_each_row(w, [&](int64_t r, const float* row) {
    double s = 0.0;
    for (int64_t c = 0; c < w.cols; ++c) s += static_cast<double>(row[c]) * x[c];
    y[r] = static_cast<float>(s);
  });
}

Status matvec_act_quantized(const WeightMatrix& w, const float* x, float* y) {
  std::vector<float> xq(static_cast<size_t>(w.cols));
  quantize_dequantize_act(w.type, x, xq.data(), w.cols);
  return matvec(w, xq.data(), y);
}

Status matvec_abs(const WeightMatrix& w, const float* x, float* y) {
  std::vector<float> xq(static_cast<size_t>(w.cols));
  quantize_dequantize_act(w.type, x, xq.data(), w.cols);
  return for_each_row(w, [&](int64_t r, const float* row) {
    double s = 0.0;
    for (int64_t c = 0; c < w.cols; ++c) s += std::fabs(static_cast<double>(row[c]) * xq[c]);
    y[r] = static_cast<float>(s);
  });
}

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<float>(x[i] * inv * (weight ? weight[i] : 1.0f));
  }
}

void sigmoid(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(1.0 / (1.0 + std::exp(-double{x[i]})));
}

void silu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = static_cast<float>(v / (1.0 + std::exp(-v)));
  }
}

void softplus(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = static_cast<float>(std::max(v, 0.0) + std::log1p(std::exp(-std::fabs(v))));
  }
}

void swiglu(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    y[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  double mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, double{x[i]});
  std::vector<double> e(static_cast<size_t>(n));
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += e[i] = std::exp(x[i] - mx);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(e[i] / sum);
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
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(y[i] + double{a} * x[i]);
}
float dot(const float* a, const float* b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

void rope_neox(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dims, int64_t pos,
               float theta) {
  const int64_t half = rot_dims / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const double ang =
          static_cast<double>(pos) *
          std::pow(static_cast<double>(theta), -2.0 * i / static_cast<double>(rot_dims));
      const double c = std::cos(ang), s = std::sin(ang);
      const double a = v[i], b = v[i + half];
      v[i] = static_cast<float>(a * c - b * s);
      v[i + half] = static_cast<float>(a * s + b * c);
    }
  }
}

}  // namespace hearth::kernels::ref
