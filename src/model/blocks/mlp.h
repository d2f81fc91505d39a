// SwiGLU MLP: down(silu(gate x) * up x). Used by the dense models and the MoE shared expert.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "model/weights.h"

namespace hearth::model {

// x: [n][ldx] (first D used), out: [n][ldo] (first D written).
void swiglu_mlp_forward(const DenseFfnWeights& w, const float* x, int64_t ldx, int64_t n,
                        float* out, int64_t ldo, ThreadPool& pool);

}  // namespace hearth::model
