// The kernel API the model calls: matrix x vector / matrix x matrix over quantised weights and
// the small element-wise ops. Implementations: kernels/ref (scalar reference, the test oracle)
// and kernels/cpu/<isa> (SIMD), chosen once at start-up by CPU feature detection.
// No model knowledge lives here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/status.h"
#include "base/thread_pool.h"
#include "tensor/dtype.h"

namespace hearth::kernels {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
const char* isa_name(Isa isa);
bool isa_supported(Isa isa);  // this CPU can run it
Isa best_isa();               // highest supported, capped by HEARTH_ISA=scalar|avx2|avx512
Isa current_isa();
// Forces the variant used by every function below (tests use this to cover each ISA).
// Returns false (and changes nothing) when the CPU cannot run it.
bool set_isa(Isa isa);

// How a matrix's blocks are ordered in memory.
enum class WeightLayout : uint8_t {
  kRowMajor = 0,  // row by row, as in GGUF files
  kRows16 = 1,    // bands of 16 interleaved rows (kernels/rows16.h); Q4_K / Q6_K only
};

// A weight matrix [rows][cols] stored row by row, each row `cols` elements of `type`
// (ggml: ne0 = cols, ne1 = rows). cols must be a multiple of block_size(type).
// With layout kRows16 the same bytes are reordered in bands of 16 rows: row() and row_stride do
// not apply (row_stride must be 0); embedding_row() and the products handle both layouts.
struct WeightMatrix {
  DType type = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  size_t row_stride = 0;  // bytes between rows; 0 means row_bytes(type, cols)
  WeightLayout layout = WeightLayout::kRowMajor;

  size_t stride() const { return row_stride ? row_stride : row_bytes(type, cols); }
  const uint8_t* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + static_cast<size_t>(r) * stride();
  }
};

// Weight types the matrix products support: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K
// (others: Q4_1, Q5_0, Q5_1, Q2_K, Q3_K through a dequantise-row fallback).
bool matmul_supported(DType type);

// Ok when matvec/matmul can run on w: supported type, cols a positive multiple of the block size,
// rows >= 0, data non-null. matvec/matmul on a bad matrix log the error and write NaNs.
Status check_matrix(const WeightMatrix& w);

// y[r] = sum_c W[r][c] * x[c], r in [0, rows) — decode. x: [cols], y: [rows].
// Multi-threaded over rows. Activations may be quantised on the fly (Q8_0/Q8_K) for integer
// dot products; results then differ from the f32 reference within the activation rounding.
void matvec(const WeightMatrix& w, const float* x, float* y, ThreadPool& pool);

// Y[t][r] = sum_c W[r][c] * X[t][c] — prefill / batches.
// x: [n_tokens][ldx] (first cols used), y: [n_tokens][ldy] (first rows written).
void matmul(const WeightMatrix& w, const float* x, int64_t ldx, int64_t n_tokens, float* y,
            int64_t ldy, ThreadPool& pool);

// Like matmul, but token t's output row is y_rows[t] (its first `rows` floats written): batches
// tokens whose outputs live in separate buffers (the LM head over several sequences) into one
// pass over the weights. y_rows: [n_tokens] pointers.
void matmul_rows(const WeightMatrix& w, const float* x, int64_t ldx, int64_t n_tokens,
                 float* const* y_rows, ThreadPool& pool);

// One product of matmul_shared_input: y = W x, y: [n_tokens][ldy] (first w->rows written).
struct MatmulOutput {
  const WeightMatrix* w;
  float* y;
  int64_t ldy;
};
// Several matrices applied to the same input (the q/k/v or gate/up projections of one block):
// same results as one matmul per output, but x is quantised once and all matrices share one
// pass of the thread pool (one synchronisation instead of one per matrix). Matrices that differ
// in cols or activation kind fall back to separate matmuls.
void matmul_shared_input(std::span<const MatmulOutput> outs, const float* x, int64_t ldx,
                         int64_t n_tokens, ThreadPool& pool);

// Row r of an embedding table (any dequantisable type) as floats. out: [cols].
void embedding_row(const WeightMatrix& table, int64_t r, float* out);

// ---- small ops, single-threaded and vectorised; all arrays have n elements; y may alias x ----
// y = x / sqrt(mean(x^2) + eps) * weight   (weight may be null: no scaling)
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);
void silu(const float* x, float* y, int64_t n);  // x * sigmoid(x)
void sigmoid(const float* x, float* y, int64_t n);
void softplus(const float* x, float* y, int64_t n);                    // log(1 + e^x), stable
void swiglu(const float* gate, const float* up, float* y, int64_t n);  // silu(gate) * up
void softmax(float* x, int64_t n);                                     // in place, stable
void add(const float* a, const float* b, float* y, int64_t n);
void mul(const float* a, const float* b, float* y, int64_t n);
void scale(float* x, float s, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);  // y += a * x
float dot(const float* a, const float* b, int64_t n);
// One decode step of the gated delta rule on a state S [dk][dv] (row i belongs to key dim i),
// in two passes over S instead of one per operation:
//   S <- decay * S;  u = beta * (v - S^T k);  S <- S + k u^T;  out = S^T q.
// q, k: [dk]; v, out: [dv] (out overwritten; may not alias the inputs).
void delta_rule_step(float* S, int64_t dk, int64_t dv, const float* q, const float* k,
                     const float* v, float decay, float beta, float* out);
// y[i] = float(x[i]) for IEEE half x (exact; the f16 KV cache is read through this). n >= 0.
void fp16_to_fp32_row(const uint16_t* x, float* y, int64_t n);
// NeoX RoPE on n_heads heads of head_dim floats laid out contiguously: within each head only
// the first rot_dims dims rotate, pairs (i, i + rot_dims/2), angle pos * theta^(-2i/rot_dims).
void rope_neox(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dims, int64_t pos,
               float theta);

// Memory-bandwidth probe: the sum of n floats read with many independent accumulators, split
// over the pool's threads (a streaming read at the machine's load bandwidth; used by benchmarks
// to put matvec throughput next to what the memory can deliver).
float sum_probe(const float* x, int64_t n, ThreadPool& pool);

// Best of `passes` streaming reads (sum_probe) over a fresh buffer of `bytes` (>> last-level
// cache), in GB/s: the figure `hearth bench` and `hearth fit` put decode speed against.
double measure_read_bandwidth_gbs(ThreadPool& pool, int64_t bytes = int64_t{512} << 20,
                                  int passes = 5);

}  // namespace hearth::kernels
