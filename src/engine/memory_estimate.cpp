// Memory estimate implementation. Shapes follow shared/docs/qwen35-architecture.md §8.3.
#include "engine/memory_estimate.h"

#include <algorithm>

#include "base/status.h"

namespace hearth::engine {

ParamCount count_params(const model::HParams& hp, bool tied_output) {
  const uint64_t D = static_cast<uint64_t>(hp.n_embd);
  const uint64_t V = static_cast<uint64_t>(hp.n_vocab);
  ParamCount p;
  uint64_t embd = V * D, out = tied_output ? 0 : V * D;
  uint64_t gdn = D * static_cast<uint64_t>(hp.conv_dim())                 // attn_qkv
                 + D * static_cast<uint64_t>(hp.value_dim())              // attn_gate (z)
                 + 2 * D * static_cast<uint64_t>(hp.ssm_v_heads)          // ssm_alpha, ssm_beta
                 + static_cast<uint64_t>(hp.conv_kernel * hp.conv_dim())  // ssm_conv1d
                 + static_cast<uint64_t>(hp.value_dim()) * D              // ssm_out
                 + 2 * static_cast<uint64_t>(hp.ssm_v_heads) + static_cast<uint64_t>(hp.ssm_v_dim);
  uint64_t qd = static_cast<uint64_t>(hp.n_head * hp.head_dim);
  uint64_t kvd = static_cast<uint64_t>(hp.n_head_kv * hp.head_dim);
  uint64_t attn = D * qd * 2 + 2 * D * kvd + qd * D + 2 * static_cast<uint64_t>(hp.head_dim);
  uint64_t ffn_total, ffn_active;
  if (hp.arch == model::Arch::kQwen35Moe) {
    uint64_t expert = 3 * D * static_cast<uint64_t>(hp.n_ff_expert);
    uint64_t shared = 3 * D * static_cast<uint64_t>(hp.n_ff_shared) + D;
    uint64_t router = D * static_cast<uint64_t>(hp.n_expert);
    ffn_total = expert * static_cast<uint64_t>(hp.n_expert) + shared + router;
    ffn_active = expert * static_cast<uint64_t>(hp.n_expert_used) + shared + router;
  } else {
    ffn_total = ffn_active = 3 * D * static_cast<uint64_t>(hp.n_ff);
  }
  uint64_t layers_total = 0, layers_active = 0;
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    bool rec = i < static_cast<int64_t>(hp.is_recurrent.size())
                   ? hp.is_recurrent[static_cast<size_t>(i)]
                   : ((i + 1) % hp.full_attention_interval != 0);
    uint64_t mix = rec ? gdn : attn;
    layers_total += mix + ffn_total + 2 * D;
    layers_active += mix + ffn_active + 2 * D;
  }
  p.total = embd + out + layers_total + D;
  // Decode reads one embedding row, not the table; a tied head reads the table as the output.
  p.active = (tied_output ? embd : D + out) + layers_active + D;
  return p;
}

MemoryEstimate estimate_memory(const model::HParams& hp, uint64_t weight_bytes,
                               double bits_per_weight, bool tied_output, int64_t context,
                               int n_sequences, int64_t step_tokens) {
  MemoryEstimate m;
  ParamCount params = count_params(hp, tied_output);
  const double bytes_per_param = weight_bytes > 0
                                     ? static_cast<double>(weight_bytes) /
                                           static_cast<double>(std::max<uint64_t>(params.total, 1))
                                     : bits_per_weight / 8.0;
  m.weights = weight_bytes > 0
                  ? weight_bytes
                  : static_cast<uint64_t>(static_cast<double>(params.total) * bytes_per_param);
  m.bytes_per_token = static_cast<uint64_t>(static_cast<double>(params.active) * bytes_per_param);
  const uint64_t n_seq = static_cast<uint64_t>(std::max(n_sequences, 1));
  const uint64_t L_attn = static_cast<uint64_t>(hp.n_attention_layers());
  const uint64_t L_gdn = static_cast<uint64_t>(hp.n_recurrent_layers());
  // KV is allocated in 256-token chunks as the sequence grows; at full context it is this.
  m.kv_cache = n_seq * static_cast<uint64_t>(context) * L_attn * 2 *
               static_cast<uint64_t>(hp.n_head_kv * hp.head_dim) * 2;
  m.recurrent_state = n_seq * L_gdn * 4 *
                      static_cast<uint64_t>(hp.ssm_v_heads * hp.ssm_k_dim * hp.ssm_v_dim +
                                            (hp.conv_kernel - 1) * hp.conv_dim());
  // One step's activations: residual, norms, projections (widest of FFN / GDN / attention) and the
  // logits of every sequence.
  const int64_t widest_ffn = hp.arch == model::Arch::kQwen35Moe
                                 ? std::max(hp.n_ff_expert, hp.n_ff_shared) * 2
                                 : hp.n_ff * 2;
  const int64_t widest = std::max({widest_ffn, hp.conv_dim() + hp.value_dim() + 2 * hp.ssm_v_heads,
                                   hp.n_head * hp.head_dim * 3});
  m.runtime =
      runtime_overhead_bytes(static_cast<uint64_t>(hp.n_vocab), static_cast<uint64_t>(hp.n_vocab));
  m.compute =
      static_cast<uint64_t>(step_tokens) * 4 * static_cast<uint64_t>(4 * hp.n_embd + 2 * widest) +
      (n_seq + 1) * 4 * static_cast<uint64_t>(hp.n_vocab);
  return m;
}

Result<MemoryEstimate> estimate_memory_for_file(const gguf::GgufFile& file, int64_t context,
                                                int n_sequences) {
  HEARTH_ASSIGN_OR_RETURN(model::HParams hp, model::read_hparams(file));
  uint64_t weight_bytes = 0;
  for (const auto& t : file.tensors()) weight_bytes += t.n_bytes;
  const bool tied = file.find_tensor("output.weight") == nullptr;
  MemoryEstimate m = estimate_memory(hp, weight_bytes, 0, tied, context, n_sequences);
  auto array_size = [&](const char* key) -> uint64_t {
    const gguf::Value* v = file.find(key);
    return v && v->type == gguf::ValueType::kArray ? v->array.size() : 0;
  };
  m.runtime = runtime_overhead_bytes(array_size("tokenizer.ggml.tokens"),
                                     array_size("tokenizer.ggml.merges"));
  return m;
}

uint64_t runtime_overhead_bytes(uint64_t n_tokens, uint64_t n_merges) {
  constexpr uint64_t kProcessBytes = 16ull << 20;
  constexpr uint64_t kBytesPerToken = 352;
  constexpr uint64_t kBytesPerMerge = 222;
  return kProcessBytes + n_tokens * kBytesPerToken + n_merges * kBytesPerMerge;
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? str_format("%llu B", static_cast<unsigned long long>(bytes))
                : str_format("%.2f %s", v, units[u]);
}

}  // namespace hearth::engine
