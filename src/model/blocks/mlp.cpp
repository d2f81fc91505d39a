// SwiGLU MLP block (qwen35-architecture.md §6.1).
#include "model/blocks/mlp.h"

#include <vector>

#include "base/aligned_buffer.h"
#include "kernels/kernels.h"

namespace hearth::model {

void swiglu_mlp_forward(const DenseFfnWeights& w, const float* x, int64_t ldx, int64_t n,
                        float* out, int64_t ldo, ThreadPool& pool) {
  const int64_t F = w.gate.rows;
  FloatScratch gate(n * F), up(n * F);  // [n][F]
  const kernels::MatmulOutput proj[] = {{&w.gate, gate.data(), F}, {&w.up, up.data(), F}};
  kernels::matmul_shared_input(proj, x, ldx, n, pool);
  pool.parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      kernels::swiglu(gate.data() + t * F, up.data() + t * F, gate.data() + t * F, F);
    }
  });
  kernels::matmul(w.down, gate.data(), F, n, out, ldo, pool);
}

}  // namespace hearth::model
