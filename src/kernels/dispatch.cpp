// Kernel dispatch: picks one KernelTable per ISA (generic / AVX2 / AVX-512, NEON to come) from
// base/cpu_features.h once, and implements the public kernel API on top of it — threading over
// rows, on-the-fly activation quantisation, token x row tiling for matmul, dequantise fallback.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/cpu_features.h"
#include "base/log.h"
#include "kernels/kernel_table.h"
#include "kernels/kernels.h"
#include "kernels/rows16.h"
#include "tensor/float16.h"
#include "tensor/quant.h"

namespace hearth::kernels {
namespace {

const KernelTable* table_for(Isa isa) {
  switch (isa) {
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::kAvx512:
      return &avx512_kernel_table();
    case Isa::kAvx2:
      return &avx2_kernel_table();
#endif
    default:
      return &generic_kernel_table();
  }
}

Isa detect_best() {
  Isa best = Isa::kScalar;
  if (isa_supported(Isa::kAvx512)) {
    best = Isa::kAvx512;
  } else if (isa_supported(Isa::kAvx2)) {
    best = Isa::kAvx2;
  }
  if (const char* cap = std::getenv("HEARTH_ISA")) {
    const std::string s(cap);
    Isa limit = best;
    if (s == "scalar" || s == "generic") {
      limit = Isa::kScalar;
    } else if (s == "avx2") {
      limit = Isa::kAvx2;
    } else if (s == "avx512") {
      limit = Isa::kAvx512;
    } else if (!s.empty()) {
      LOG_WARN("HEARTH_ISA=%s not recognised (scalar|avx2|avx512); ignoring", cap);
    }
    if (static_cast<int>(limit) < static_cast<int>(best)) best = limit;
  }
  return best;
}

struct State {
  std::atomic<int> isa;
  std::atomic<const KernelTable*> table;
  State() {
    const Isa b = detect_best();
    isa.store(static_cast<int>(b));
    table.store(table_for(b));
  }
};

State& state() {
  static State s;
  return s;
}

inline const KernelTable& tab() {
  return *state().table.load(std::memory_order_relaxed);
}

// Per-thread scratch (activation buffers on the caller, dequantised rows on every thread).
float* dequant_scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < static_cast<size_t>(n)) buf.resize(static_cast<size_t>(n));
  return buf.data();
}
uint8_t* at_least(AlignedBuffer& buf, size_t bytes) {
  if (buf.size() < bytes) buf.resize(bytes);
  return buf.as<uint8_t>();
}
uint8_t* act_scratch(size_t bytes) {
  thread_local AlignedBuffer buf;
  return at_least(buf, bytes);
}
// Row-major copy of one rows16 band (every thread; the fallback path only).
uint8_t* band_scratch(size_t bytes) {
  thread_local AlignedBuffer buf;
  return at_least(buf, bytes);
}

bool fill_nan_if_bad(const WeightMatrix& w, float* const* y_rows, int64_t n_tokens) {
  Status st = check_matrix(w);
  if (st.is_ok()) return false;
  LOG_ERROR("kernels: %s", st.message().c_str());
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < w.rows; ++r) y_rows[t][r] = std::numeric_limits<float>::quiet_NaN();
  }
  return true;
}

// Quantises tokens [0, n_tokens) of x into act (row stride astride), the work split over the pool's
// threads: by blocks for a single token (decode), by tokens otherwise.
void quantize_share(const KernelTable& kt, ActKind ak, const float* x, int64_t ldx,
                    int64_t n_tokens, int64_t cols, uint8_t* act, size_t astride, int ith,
                    int nth) {
  const int64_t bs = ak == ActKind::kQ8 ? kQK : kQK_K;
  auto quant = [&](const float* src, uint8_t* dst, int64_t n) {
    if (ak == ActKind::kQ8) {
      kt.quantize_act_q8(src, reinterpret_cast<ActQ8*>(dst), n);
    } else {
      kt.quantize_act_q8k(src, reinterpret_cast<ActQ8K*>(dst), n);
    }
  };
  const size_t block_bytes = ak == ActKind::kQ8 ? sizeof(ActQ8) : sizeof(ActQ8K);
  if (n_tokens == 1) {
    int64_t b0, b1;
    ThreadPool::split(cols / bs, ith, nth, 1, &b0, &b1);
    if (b1 > b0) quant(x + b0 * bs, act + static_cast<size_t>(b0) * block_bytes, (b1 - b0) * bs);
  } else {
    int64_t t0, t1;
    ThreadPool::split(n_tokens, ith, nth, 1, &t0, &t1);
    for (int64_t t = t0; t < t1; ++t)
      quant(x + t * ldx, act + static_cast<size_t>(t) * astride, cols);
  }
}

// Rows per tile so that a tile of weights stays in L2 while a group of tokens streams past it.
int64_t rows_per_tile(const WeightMatrix& w) {
  const size_t bytes = std::max<size_t>(w.stride(), 1);
  return std::clamp<int64_t>(static_cast<int64_t>((256u << 10) / bytes), 4, 4096);
}

void matmul_chunk(const WeightMatrix& w, const float* x, int64_t ldx, int64_t n_tokens,
                  float* const* y_rows, ThreadPool& pool);

// One matrix of a matmul pass: where token t's outputs go.
struct PassTarget {
  const WeightMatrix* w;
  float* const* y_rows;  // [n_tokens] output row of each token
};

ActKind pass_act_kind(const WeightMatrix& w) {
  const WKind wk = wkind_of(w.type);
  return wk == WKind::kCount ? ActKind::kF32 : act_kind(wk);
}

void matmul_pass(std::span<const PassTarget> targets, const float* x, int64_t ldx, int64_t n_tokens,
                 ThreadPool& pool);

}  // namespace

bool rows16_preferred(DType type, int64_t rows, int64_t cols) {
  static const bool disabled = [] {
    const char* v = std::getenv("HEARTH_REPACK");
    return v != nullptr && std::string(v) == "0";
  }();
  // Small matrices (the DeltaNet beta/alpha projections) would give one band to one thread.
  constexpr int64_t kMinRows = 8 * kRows16;
  if (disabled || !rows16_layout_exists(type) || rows % kRows16 != 0 || rows < kMinRows ||
      cols <= 0 || cols % kQK_K != 0) {
    return false;
  }
  return tab().rows16_dot[static_cast<int>(wkind_of(type))] != nullptr;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kScalar:
      return true;
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::kAvx2:
      return f.avx2 && f.fma && f.f16c;
    case Isa::kAvx512:
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl &&
             f.avx512vnni;
#endif
    default:
      return false;
  }
}

Isa best_isa() {
  static const Isa best = detect_best();
  return best;
}

Isa current_isa() {
  return static_cast<Isa>(state().isa.load());
}

bool set_isa(Isa isa) {
  if (!isa_supported(isa)) return false;
  state().table.store(table_for(isa));
  state().isa.store(static_cast<int>(isa));
  return true;
}

bool matmul_supported(DType type) {
  return wkind_of(type) != WKind::kCount || (type != DType::kQ8_K && can_dequantize(type));
}

Status check_matrix(const WeightMatrix& w) {
  if (!dtype_traits(static_cast<uint32_t>(w.type))) {
    return invalid_argument_error(
        str_format("unknown weight type id %u", static_cast<unsigned>(w.type)));
  }
  if (!matmul_supported(w.type)) {
    return unsupported_error(str_format("no matrix kernel for weight type %s", dtype_name(w.type)));
  }
  if (w.cols <= 0 || w.cols % block_size(w.type) != 0) {
    return invalid_argument_error(
        str_format("%s matrix: cols %lld is not a positive multiple of %lld", dtype_name(w.type),
                   static_cast<long long>(w.cols), static_cast<long long>(block_size(w.type))));
  }
  if (w.rows < 0) return invalid_argument_error("matrix with negative rows");
  if (w.rows > 0 && w.data == nullptr) return invalid_argument_error("matrix data is null");
  if (w.row_stride != 0 && w.row_stride < row_bytes(w.type, w.cols)) {
    return invalid_argument_error("matrix row_stride smaller than a row");
  }
  if (w.layout == WeightLayout::kRows16 &&
      (!rows16_layout_exists(w.type) || w.rows % kRows16 != 0 || w.row_stride != 0)) {
    return invalid_argument_error(str_format(
        "rows16 layout needs a Q4_K/Q6_K matrix with rows a multiple of 16 and no row_stride "
        "(got %s, %lld rows)",
        dtype_name(w.type), static_cast<long long>(w.rows)));
  }
  return Status::ok();
}

void matvec(const WeightMatrix& w, const float* x, float* y, ThreadPool& pool) {
  matmul(w, x, w.cols, 1, y, w.rows, pool);
}

// Tokens per pass of matmul: bounds the quantised-activation scratch (and keeps it cache-sized);
// each pass re-reads the weights once, which is noise next to the compute for 256 tokens.
constexpr int64_t kTokenChunk = 256;

void matmul(const WeightMatrix& w, const float* x, int64_t ldx, int64_t n_tokens, float* y,
            int64_t ldy, ThreadPool& pool) {
  if (n_tokens <= 0 || w.rows == 0) return;
  float* rows[kTokenChunk];  // output row of each token of the current pass
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenChunk) {
    const int64_t n = std::min(kTokenChunk, n_tokens - t0);
    for (int64_t t = 0; t < n; ++t) rows[t] = y + (t0 + t) * ldy;
    if (t0 == 0 && fill_nan_if_bad(w, rows, n)) {
      for (int64_t t = n; t < n_tokens; ++t) {
        std::fill(y + t * ldy, y + t * ldy + w.rows, std::numeric_limits<float>::quiet_NaN());
      }
      return;
    }
    matmul_chunk(w, x + t0 * ldx, ldx, n, rows, pool);
  }
}

void matmul_rows(const WeightMatrix& w, const float* x, int64_t ldx, int64_t n_tokens,
                 float* const* y_rows, ThreadPool& pool) {
  if (n_tokens <= 0 || w.rows == 0) return;
  if (fill_nan_if_bad(w, y_rows, n_tokens)) return;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenChunk) {
    matmul_chunk(w, x + t0 * ldx, ldx, std::min(kTokenChunk, n_tokens - t0), y_rows + t0, pool);
  }
}

void matmul_shared_input(std::span<const MatmulOutput> outs, const float* x, int64_t ldx,
                         int64_t n_tokens, ThreadPool& pool) {
  if (outs.empty() || n_tokens <= 0) return;
  bool one_pass = true;
  for (const MatmulOutput& o : outs) {
    one_pass = one_pass && check_matrix(*o.w).is_ok() && o.w->cols == outs[0].w->cols &&
               pass_act_kind(*o.w) == pass_act_kind(*outs[0].w);
  }
  if (!one_pass) {  // different inputs kinds or a bad matrix (matmul reports it): one at a time
    for (const MatmulOutput& o : outs) matmul(*o.w, x, ldx, n_tokens, o.y, o.ldy, pool);
    return;
  }
  std::vector<PassTarget> targets(outs.size());
  std::vector<float*> rows(outs.size() * static_cast<size_t>(kTokenChunk));  // [target][token]
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenChunk) {
    const int64_t n = std::min(kTokenChunk, n_tokens - t0);
    for (size_t i = 0; i < outs.size(); ++i) {
      float** r = rows.data() + i * static_cast<size_t>(kTokenChunk);
      for (int64_t t = 0; t < n; ++t) r[t] = outs[i].y + (t0 + t) * outs[i].ldy;
      targets[i] = {outs[i].w, r};
    }
    matmul_pass(targets, x + t0 * ldx, ldx, n, pool);
  }
}

namespace {

// rows16 matrices: threads take whole bands; each band meets the tokens kRows16MaxTile at a
// time (the band, 16 rows x cols, stays in L1/L2 across the token tiles). Without a fast
// kernel for this ISA the band is read back to row-major rows once and row_dot does the work.
void rows16_share(const KernelTable& kt, WKind wk, const WeightMatrix& w, const uint8_t* act,
                  size_t astride, int64_t n_tokens, float* const* y_rows, int ith, int nth) {
  const Rows16DotFn fast = kt.rows16_dot[static_cast<int>(wk)];
  const RowDotFn rowfn = kt.row_dot[static_cast<int>(wk)];
  const int64_t cols = w.cols;
  const size_t rbytes = row_bytes(w.type, cols);
  const size_t band_bytes = rbytes * kRows16;
  int64_t g0, g1;
  ThreadPool::split(w.rows / kRows16, ith, nth, 1, &g0, &g1);
  float out[kRows16MaxTile * kRows16];  // [token][row in band]
  uint8_t* rows = fast ? nullptr : band_scratch(band_bytes);
  for (int64_t g = g0; g < g1; ++g) {
    const uint8_t* band = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(g) * band_bytes;
    const int64_t r0 = g * kRows16;
    if (fast) {
      for (int64_t t = 0; t < n_tokens; t += kRows16MaxTile) {
        const int nt = static_cast<int>(std::min<int64_t>(kRows16MaxTile, n_tokens - t));
        fast(cols, band, act + t * astride, astride, nt, out);
        for (int k = 0; k < nt; ++k) {
          std::memcpy(y_rows[t + k] + r0, out + k * kRows16, kRows16 * sizeof(float));
        }
      }
      continue;
    }
    for (int r = 0; r < kRows16; ++r) {
      unpack_rows16_row(w.type, w.data, cols, r0 + r, rows + r * rbytes);
    }
    for (int64_t t = 0; t < n_tokens; t += kMaxTile) {
      const int nt = static_cast<int>(std::min<int64_t>(kMaxTile, n_tokens - t));
      for (int r = 0; r < kRows16; ++r) {
        rowfn(cols, rows + r * rbytes, act + t * astride, astride, nt, out);
        for (int k = 0; k < nt; ++k) y_rows[t + k][r0 + r] = out[k];
      }
    }
  }
}

// Thread ith's part of one matrix once the activations are ready (act: quantised for the
// matrix's kind, or the f32 input itself for float / fallback types).
void matrix_share(const KernelTable& kt, const WeightMatrix& w, const uint8_t* act, size_t astride,
                  int64_t n_tokens, float* const* y_rows, int ith, int nth) {
  const WKind wk = wkind_of(w.type);
  if (w.layout == WeightLayout::kRows16) {
    rows16_share(kt, wk, w, act, astride, n_tokens, y_rows, ith, nth);
    return;
  }
  const bool fallback = wk == WKind::kCount;
  const RowDotFn dotfn = kt.row_dot[static_cast<int>(fallback ? WKind::kF32 : wk)];
  const int64_t cols = w.cols;
  const int64_t tile_rows = rows_per_tile(w);
  // Split rows across threads when there are enough; otherwise tokens (few-row prefill).
  const bool split_tokens = n_tokens > 1 && w.rows < 16 * nth;
  int64_t r0 = 0, r1 = w.rows, t0 = 0, t1 = n_tokens;
  if (split_tokens) {
    ThreadPool::split(n_tokens, ith, nth, 1, &t0, &t1);
  } else {
    ThreadPool::split(w.rows, ith, nth, 4, &r0, &r1);
  }
  if (r0 >= r1 || t0 >= t1) return;
  float out[kMaxTile];
  if (fallback) {
    float* row = dequant_scratch(cols);
    for (int64_t r = r0; r < r1; ++r) {
      (void)dequantize_row(w.type, w.row(r), row, cols);  // type checked in check_matrix
      for (int64_t t = t0; t < t1; t += kMaxTile) {
        const int nt = static_cast<int>(std::min<int64_t>(kMaxTile, t1 - t));
        dotfn(cols, row, act + t * astride, astride, nt, out);
        for (int k = 0; k < nt; ++k) y_rows[t + k][r] = out[k];
      }
    }
    return;
  }
  if (t1 - t0 == 1) {
    for (int64_t r = r0; r < r1; ++r) {
      dotfn(cols, w.row(r), act + t0 * astride, astride, 1, out);
      y_rows[t0][r] = out[0];
    }
    return;
  }
  // Tokens in groups of kMaxTile against a tile of rows that stays cache-resident: each weight
  // block is unpacked once per token group instead of once per token.
  for (int64_t rb = r0; rb < r1; rb += tile_rows) {
    const int64_t re = std::min(r1, rb + tile_rows);
    for (int64_t t = t0; t < t1; t += kMaxTile) {
      const int nt = static_cast<int>(std::min<int64_t>(kMaxTile, t1 - t));
      const uint8_t* a = act + t * astride;
      for (int64_t r = rb; r < re; ++r) {
        dotfn(cols, w.row(r), a, astride, nt, out);
        for (int k = 0; k < nt; ++k) y_rows[t + k][r] = out[k];
      }
    }
  }
}

// One pass (n_tokens <= kTokenChunk) of matrices that share their input x and its activation
// kind: x is quantised once, then every matrix is split over the threads inside the same pool
// run (no barrier between the matrices).
void matmul_pass(std::span<const PassTarget> targets, const float* x, int64_t ldx, int64_t n_tokens,
                 ThreadPool& pool) {
  const KernelTable& kt = tab();
  const ActKind ak = pass_act_kind(*targets[0].w);
  const int64_t cols = targets[0].w->cols;
  const uint8_t* act = reinterpret_cast<const uint8_t*>(x);
  size_t astride = static_cast<size_t>(ldx) * sizeof(float);
  uint8_t* qbuf = nullptr;
  if (ak != ActKind::kF32) {
    astride = act_row_bytes(ak, cols);
    qbuf = act_scratch(astride * static_cast<size_t>(n_tokens));
    act = qbuf;
  }
  pool.run([&](int ith, int nth) {
    if (qbuf) {
      quantize_share(kt, ak, x, ldx, n_tokens, cols, qbuf, astride, ith, nth);
      pool.barrier();
    }
    for (const PassTarget& t : targets) {
      matrix_share(kt, *t.w, act, astride, n_tokens, t.y_rows, ith, nth);
    }
  });
}

void matmul_chunk(const WeightMatrix& w, const float* x, int64_t ldx, int64_t n_tokens,
                  float* const* y_rows, ThreadPool& pool) {
  const PassTarget target{&w, y_rows};
  matmul_pass(std::span<const PassTarget>(&target, 1), x, ldx, n_tokens, pool);
}

}  // namespace

void embedding_row(const WeightMatrix& table, int64_t r, float* out) {
  if (r < 0 || r >= table.rows || table.data == nullptr) {
    LOG_ERROR("embedding_row: row %lld out of range [0, %lld)", static_cast<long long>(r),
              static_cast<long long>(table.rows));
    std::fill(out, out + std::max<int64_t>(table.cols, 0), std::numeric_limits<float>::quiet_NaN());
    return;
  }
  const uint8_t* src = table.row(r);
  if (table.layout == WeightLayout::kRows16) {
    thread_local std::vector<uint8_t> packed;  // row r back in row-major block order
    packed.resize(row_bytes(table.type, table.cols));
    unpack_rows16_row(table.type, table.data, table.cols, r, packed.data());
    src = packed.data();
  }
  switch (table.type) {
    case DType::kF32:
      std::memcpy(out, src, static_cast<size_t>(table.cols) * sizeof(float));
      return;
    case DType::kF16: {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < table.cols; ++i) out[i] = fp16_to_fp32(h[i]);
      return;
    }
    case DType::kBF16: {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < table.cols; ++i) out[i] = bf16_to_fp32(h[i]);
      return;
    }
    default: {
      Status st = dequantize_row(table.type, src, out, table.cols);
      if (!st.is_ok()) {
        LOG_ERROR("embedding_row: %s", st.message().c_str());
        std::fill(out, out + table.cols, std::numeric_limits<float>::quiet_NaN());
      }
    }
  }
}

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  if (n > 0) tab().rms_norm(x, weight, y, n, eps);
}
void silu(const float* x, float* y, int64_t n) {
  tab().silu(x, y, n);
}
void sigmoid(const float* x, float* y, int64_t n) {
  tab().sigmoid(x, y, n);
}
void softplus(const float* x, float* y, int64_t n) {
  tab().softplus(x, y, n);
}
void swiglu(const float* gate, const float* up, float* y, int64_t n) {
  tab().swiglu(gate, up, y, n);
}
void softmax(float* x, int64_t n) {
  tab().softmax(x, n);
}
void add(const float* a, const float* b, float* y, int64_t n) {
  tab().add(a, b, y, n);
}
void mul(const float* a, const float* b, float* y, int64_t n) {
  tab().mul(a, b, y, n);
}
void scale(float* x, float s, int64_t n) {
  tab().scale(x, s, n);
}
void axpy(float a, const float* x, float* y, int64_t n) {
  tab().axpy(a, x, y, n);
}
float dot(const float* a, const float* b, int64_t n) {
  return tab().dot(a, b, n);
}

void delta_rule_step(float* S, int64_t dk, int64_t dv, const float* q, const float* k,
                     const float* v, float decay, float beta, float* out) {
  if (dk <= 0 || dv <= 0) {
    if (dv > 0) std::fill(out, out + dv, 0.0f);
    return;
  }
  tab().delta_rule_step(S, dk, dv, q, k, v, decay, beta, out);
}

void fp16_to_fp32_row(const uint16_t* x, float* y, int64_t n) {
  if (n > 0) tab().fp16_to_fp32(x, y, n);
}

void rope_neox(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dims, int64_t pos,
               float theta) {
  if (rot_dims <= 0 || rot_dims % 2 != 0 || rot_dims > head_dim) {
    LOG_ERROR("rope_neox: rot_dims %lld must be even and in (0, head_dim %lld]",
              static_cast<long long>(rot_dims), static_cast<long long>(head_dim));
    return;
  }
  const int64_t half = rot_dims / 2;
  thread_local std::vector<float> cs;
  cs.resize(static_cast<size_t>(2 * half));
  float* c = cs.data();
  float* s = c + half;
  // Angles in double: pos * theta^(-2i/rot) loses too much in f32 at long positions.
  for (int64_t i = 0; i < half; ++i) {
    const double ang = static_cast<double>(pos) *
                       std::pow(static_cast<double>(theta),
                                -2.0 * static_cast<double>(i) / static_cast<double>(rot_dims));
    c[i] = static_cast<float>(std::cos(ang));
    s[i] = static_cast<float>(std::sin(ang));
  }
  const KernelTable& kt = tab();
  for (int64_t h = 0; h < n_heads; ++h) kt.rope_rotate(x + h * head_dim, c, s, half);
}

float sum_probe(const float* x, int64_t n, ThreadPool& pool) {
  const KernelTable& kt = tab();
  float partial[64] = {};
  const int nth_used = std::min(pool.size(), 64);
  pool.run([&](int ith, int nth) {
    if (ith >= nth_used) return;
    int64_t b, e;
    // 4 KiB grain: each thread streams whole pages.
    ThreadPool::split(n, ith, std::min(nth, nth_used), 1024, &b, &e);
    if (e > b) partial[ith] = kt.sum_stream(x + b, e - b);
  });
  float s = 0.0f;
  for (int i = 0; i < nth_used; ++i) s += partial[i];
  return s;
}

}  // namespace hearth::kernels
