// Sparse MoE block: softmax router over all experts, top-k, renormalised weights, SwiGLU
// experts read from stacked 3-D tensors (only the selected experts' rows are touched), plus the
// shared expert scaled by sigmoid(shared gate).
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace hearth::model {

// Top-k of softmax(logits) renormalised to sum 1. logits: [n_expert]; idx/weights: [k].
void moe_route(const float* logits, int64_t n_expert, int64_t k, int32_t* idx, float* weights);

// x: [n][D] normalised input, out: [n][D] (overwritten).
void moe_forward(const HParams& hp, const MoeWeights& w, const float* x, int64_t n, float* out,
                 ThreadPool& pool);

}  // namespace hearth::model
