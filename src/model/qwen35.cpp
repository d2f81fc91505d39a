// Architecture `qwen35` (dense Qwen3.5): every layer's FFN is a SwiGLU MLP.
#include "model/blocks/mlp.h"
#include "model/weights.h"

namespace hearth::model {

Status bind_dense_ffn(const TensorBinder& b, const HParams& hp, int64_t i, LayerWeights& lw) {
  const int64_t D = hp.n_embd, F = hp.n_ff;
  HEARTH_ASSIGN_OR_RETURN(lw.ffn.gate, b.matrix(blk(i, "ffn_gate.weight"), D, F));
  HEARTH_ASSIGN_OR_RETURN(lw.ffn.up, b.matrix(blk(i, "ffn_up.weight"), D, F));
  HEARTH_ASSIGN_OR_RETURN(lw.ffn.down, b.matrix(blk(i, "ffn_down.weight"), F, D));
  return Status::ok();
}

void dense_ffn_forward(const HParams& hp, const LayerWeights& lw, const float* x, int64_t n,
                       float* out, ThreadPool& pool) {
  swiglu_mlp_forward(lw.ffn, x, hp.n_embd, n, out, hp.n_embd, pool);
}

}  // namespace hearth::model
