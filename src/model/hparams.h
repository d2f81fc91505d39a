// Hyper-parameters of a Qwen3.5 model (dense `qwen35` or MoE `qwen35moe`), read from GGUF
// metadata exactly as llama.cpp writes it (never guessed from tensor shapes when a key exists).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace hearth::model {

enum class Arch { kQwen35, kQwen35Moe };
const char* arch_name(Arch arch);  // "qwen35" / "qwen35moe"

struct HParams {
  Arch arch = Arch::kQwen35;
  int64_t n_vocab = 0;  // rows of token_embd
  int64_t n_layer = 0;  // main decoder layers L = block_count - nextn_predict_layers
  int64_t n_block = 0;  // block_count as stored (may include MTP blocks)
  int64_t n_embd = 0;   // D
  int64_t context_length = 0;
  float rms_eps = 1e-6f;

  // Full attention.
  int64_t n_head = 0;     // Hq
  int64_t n_head_kv = 0;  // Hkv
  int64_t head_dim = 0;   // dh (attention.key_length)
  int64_t rope_dims = 0;  // R (rope.dimension_count)
  float rope_theta = 1e7f;

  // Gated DeltaNet.
  int64_t conv_kernel = 0;  // Kc
  int64_t ssm_k_heads = 0;  // Hk (ssm.group_count)
  int64_t ssm_v_heads = 0;  // Hv (ssm.time_step_rank)
  int64_t ssm_k_dim = 0;    // dk (ssm.state_size)
  int64_t ssm_v_dim = 0;    // dv (ssm.inner_size / Hv)
  int64_t full_attention_interval = 4;
  std::vector<bool> is_recurrent;  // [n_layer]: true = GDN layer, false = full attention

  // Dense FFN.
  int64_t n_ff = 0;  // F
  // MoE.
  int64_t n_expert = 0;       // E
  int64_t n_expert_used = 0;  // k
  int64_t n_ff_expert = 0;    // Fe
  int64_t n_ff_shared = 0;    // Fs

  int64_t key_dim() const { return ssm_k_heads * ssm_k_dim; }
  int64_t value_dim() const { return ssm_v_heads * ssm_v_dim; }
  int64_t conv_dim() const { return 2 * key_dim() + value_dim(); }
  int64_t n_attention_layers() const;
  int64_t n_recurrent_layers() const { return n_layer - n_attention_layers(); }
};

// Reads and validates the hyper-parameters; unknown architectures give kUnsupported.
Result<HParams> read_hparams(const gguf::GgufFile& file);

}  // namespace hearth::model
