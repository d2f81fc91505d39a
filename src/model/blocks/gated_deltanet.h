// Gated DeltaNet (linear attention) block: projections, causal depthwise conv with per-sequence
// state, L2-normalised q/k, decay/beta gates, the delta rule in f32 (recurrent and chunked
// forms), gated RMSNorm and the output projection. GGUF (tiled) value-head order: value head n
// reads key head n mod Hk.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "model/blocks/batch_layout.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace hearth::model {

constexpr int64_t kGdnChunk = 64;

// Inputs of the delta rule for one value head over T tokens, token rows at the given strides
// (in floats). q is already normalised and scaled by 1/sqrt(dk), k normalised.
struct DeltaRuleInput {
  const float* q;  // row t at q + t * qk_stride, dk floats
  const float* k;
  int64_t qk_stride;
  const float* v;  // row t at v + t * v_stride, dv floats
  int64_t v_stride;
  const float* g;     // log-decay, g[t * gb_stride]
  const float* beta;  // write strength, beta[t * gb_stride]
  int64_t gb_stride;
  int64_t n_tokens;
  int64_t dk, dv;
};

// S: [dk][dv] state (updated in place). o: row t at o + t * o_stride, dv floats.
void delta_rule_recurrent(const DeltaRuleInput& in, float* state, float* o, int64_t o_stride);
void delta_rule_chunked(const DeltaRuleInput& in, float* state, float* o, int64_t o_stride,
                        int64_t chunk = kGdnChunk);

// x: [N][D] normalised layer input; out: [N][D] block output (overwritten).
void gated_deltanet_forward(const HParams& hp, const GdnWeights& w, int64_t layer, const float* x,
                            const BatchLayout& batch, GdnMode mode, float* out, ThreadPool& pool);

}  // namespace hearth::model
