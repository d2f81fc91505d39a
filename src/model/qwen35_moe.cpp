// Architecture `qwen35moe` (Qwen3.5-MoE): every layer's FFN is routed experts plus a gated
// shared expert.
#include "model/blocks/moe.h"
#include "model/weights.h"

namespace hearth::model {

Status bind_moe_ffn(const TensorBinder& b, const HParams& hp, int64_t i, LayerWeights& lw) {
  const int64_t D = hp.n_embd, E = hp.n_expert, Fe = hp.n_ff_expert, Fs = hp.n_ff_shared;
  MoeWeights& m = lw.moe;
  if (b.has(blk(i, "ffn_gate_up_exps.weight")) && !b.has(blk(i, "ffn_gate_exps.weight"))) {
    return unsupported_error(str_format("layer %lld: fused 'ffn_gate_up_exps' is not supported",
                                        static_cast<long long>(i)));
  }
  HEARTH_ASSIGN_OR_RETURN(m.router, b.matrix(blk(i, "ffn_gate_inp.weight"), D, E));
  HEARTH_ASSIGN_OR_RETURN(m.gate, b.stack(blk(i, "ffn_gate_exps.weight"), D, Fe, E));
  HEARTH_ASSIGN_OR_RETURN(m.up, b.stack(blk(i, "ffn_up_exps.weight"), D, Fe, E));
  HEARTH_ASSIGN_OR_RETURN(m.down, b.stack(blk(i, "ffn_down_exps.weight"), Fe, D, E));
  HEARTH_ASSIGN_OR_RETURN(m.shared_gate, b.matrix(blk(i, "ffn_gate_inp_shexp.weight"), D, 1));
  HEARTH_ASSIGN_OR_RETURN(m.shared.gate, b.matrix(blk(i, "ffn_gate_shexp.weight"), D, Fs));
  HEARTH_ASSIGN_OR_RETURN(m.shared.up, b.matrix(blk(i, "ffn_up_shexp.weight"), D, Fs));
  HEARTH_ASSIGN_OR_RETURN(m.shared.down, b.matrix(blk(i, "ffn_down_shexp.weight"), Fs, D));
  return Status::ok();
}

void moe_ffn_forward(const HParams& hp, const LayerWeights& lw, const float* x, int64_t n,
                     float* out, ThreadPool& pool) {
  moe_forward(hp, lw.moe, x, n, out, pool);
}

}  // namespace hearth::model
