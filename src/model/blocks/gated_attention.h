// Gated full-attention block: q/gate interleaved per head, q/k RMSNorm, partial NeoX RoPE, GQA
// with contiguous groups, causal attention over the per-sequence f16 KV cache computed tile by
// tile with an online softmax (no n x n score matrix), sigmoid output gate, output projection.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "model/blocks/batch_layout.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace hearth::model {

constexpr int64_t kAttnKvTile = 64;      // cache positions per tile
constexpr int64_t kAttnQueryBlock = 16;  // query tokens sharing one pass over the cache

// x: [N][D] normalised layer input; out: [N][D] block output (overwritten). Appends this
// batch's K/V to each sequence's cache (the caller reserved room).
void gated_attention_forward(const HParams& hp, const AttentionWeights& w, int64_t layer,
                             const float* x, const BatchLayout& batch, float* out,
                             ThreadPool& pool);

}  // namespace hearth::model
