// Reads Qwen3.5 hyper-parameters from GGUF metadata (keys of qwen35-architecture.md §8.2).
#include "model/hparams.h"

namespace hearth::model {

const char* arch_name(Arch arch) {
  return arch == Arch::kQwen35 ? "qwen35" : "qwen35moe";
}

int64_t HParams::n_attention_layers() const {
  int64_t n = 0;
  for (bool r : is_recurrent) n += r ? 0 : 1;
  return n;
}

namespace {

Result<int64_t> get_int(const gguf::GgufFile& f, const std::string& key) {
  auto v = f.get_u64(key);
  if (!v.is_ok()) return v.status();
  if (*v > (uint64_t{1} << 40)) {
    return corrupt_data_error(str_format("metadata key '%s' has implausible value %llu",
                                         key.c_str(), static_cast<unsigned long long>(*v)));
  }
  return static_cast<int64_t>(*v);
}

int64_t get_int_or(const gguf::GgufFile& f, const std::string& key, int64_t fallback) {
  if (!f.find(key)) return fallback;
  auto v = get_int(f, key);
  return v.is_ok() ? *v : fallback;
}

Status require_positive(const char* what, const std::string& key, int64_t v) {
  if (v <= 0) {
    return corrupt_data_error(str_format("%s ('%s') must be positive, found %lld", what,
                                         key.c_str(), static_cast<long long>(v)));
  }
  return Status::ok();
}

}  // namespace

Result<HParams> read_hparams(const gguf::GgufFile& f) {
  HParams hp;
  HEARTH_ASSIGN_OR_RETURN(std::string arch, f.get_string("general.architecture"));
  if (arch == "qwen35") {
    hp.arch = Arch::kQwen35;
  } else if (arch == "qwen35moe") {
    hp.arch = Arch::kQwen35Moe;
  } else {
    return unsupported_error(
        str_format("unknown architecture '%s' (supported: qwen35, qwen35moe)", arch.c_str()));
  }
  const std::string p = arch + ".";
  auto key = [&](const char* k) { return p + k; };

#define HP_REQ(field, k)                                                \
  do {                                                                  \
    HEARTH_ASSIGN_OR_RETURN(hp.field, get_int(f, key(k)));              \
    HEARTH_RETURN_IF_ERROR(require_positive(#field, key(k), hp.field)); \
  } while (0)

  HP_REQ(n_block, "block_count");
  const int64_t n_mtp = get_int_or(f, key("nextn_predict_layers"), 0);
  if (n_mtp < 0 || n_mtp >= hp.n_block) {
    return corrupt_data_error(
        str_format("%s = %lld is not below block_count %lld", key("nextn_predict_layers").c_str(),
                   static_cast<long long>(n_mtp), static_cast<long long>(hp.n_block)));
  }
  hp.n_layer = hp.n_block - n_mtp;
  HP_REQ(n_embd, "embedding_length");
  hp.context_length = get_int_or(f, key("context_length"), 262144);
  HP_REQ(n_head, "attention.head_count");
  HP_REQ(n_head_kv, "attention.head_count_kv");
  HP_REQ(head_dim, "attention.key_length");
  if (f.find(key("attention.value_length"))) {
    HEARTH_ASSIGN_OR_RETURN(int64_t vl, get_int(f, key("attention.value_length")));
    if (vl != hp.head_dim) {
      return unsupported_error(str_format("attention.value_length %lld != key_length %lld",
                                          static_cast<long long>(vl),
                                          static_cast<long long>(hp.head_dim)));
    }
  }
  {
    HEARTH_ASSIGN_OR_RETURN(double eps, f.get_f64(key("attention.layer_norm_rms_epsilon")));
    hp.rms_eps = static_cast<float>(eps);
  }
  {
    HEARTH_ASSIGN_OR_RETURN(double theta, f.get_f64(key("rope.freq_base")));
    hp.rope_theta = static_cast<float>(theta);
  }
  HP_REQ(rope_dims, "rope.dimension_count");
  HP_REQ(conv_kernel, "ssm.conv_kernel");
  HP_REQ(ssm_k_dim, "ssm.state_size");
  HP_REQ(ssm_k_heads, "ssm.group_count");
  HP_REQ(ssm_v_heads, "ssm.time_step_rank");
  int64_t inner = 0;
  HEARTH_ASSIGN_OR_RETURN(inner, get_int(f, key("ssm.inner_size")));
  if (inner <= 0 || inner % hp.ssm_v_heads != 0) {
    return corrupt_data_error(
        str_format("ssm.inner_size %lld is not a multiple of time_step_rank %lld",
                   static_cast<long long>(inner), static_cast<long long>(hp.ssm_v_heads)));
  }
  hp.ssm_v_dim = inner / hp.ssm_v_heads;
  if (hp.ssm_v_heads % hp.ssm_k_heads != 0) {
    return corrupt_data_error(
        str_format("ssm.time_step_rank %lld is not a multiple of group_count %lld",
                   static_cast<long long>(hp.ssm_v_heads), static_cast<long long>(hp.ssm_k_heads)));
  }
  if (hp.n_head % hp.n_head_kv != 0) {
    return corrupt_data_error(
        str_format("attention.head_count %lld is not a multiple of head_count_kv %lld",
                   static_cast<long long>(hp.n_head), static_cast<long long>(hp.n_head_kv)));
  }
  if (hp.rope_dims > hp.head_dim || hp.rope_dims % 2 != 0) {
    return corrupt_data_error(str_format("rope.dimension_count %lld invalid for head dim %lld",
                                         static_cast<long long>(hp.rope_dims),
                                         static_cast<long long>(hp.head_dim)));
  }
  if (hp.conv_kernel > 16) {
    return unsupported_error(str_format("ssm.conv_kernel %lld is larger than 16",
                                        static_cast<long long>(hp.conv_kernel)));
  }
  hp.full_attention_interval = get_int_or(f, key("full_attention_interval"), 4);
  if (hp.full_attention_interval <= 0) {
    return corrupt_data_error("full_attention_interval must be positive");
  }
  hp.is_recurrent.assign(hp.n_layer, false);
  if (const gguf::Value* rl = f.find(key("attention.recurrent_layers"))) {
    if (rl->type != gguf::ValueType::kArray ||
        static_cast<int64_t>(rl->array.size()) < hp.n_layer) {
      return corrupt_data_error(str_format("%s must be an array of at least %lld entries",
                                           key("attention.recurrent_layers").c_str(),
                                           static_cast<long long>(hp.n_layer)));
    }
    for (int64_t i = 0; i < hp.n_layer; ++i) {
      auto b = rl->array[i].as_bool();
      auto u = rl->array[i].as_u64();
      if (!b && !u) return corrupt_data_error("attention.recurrent_layers has a non-boolean entry");
      hp.is_recurrent[i] = b ? *b : (*u != 0);
    }
  } else {
    for (int64_t i = 0; i < hp.n_layer; ++i) {
      hp.is_recurrent[i] = (i + 1) % hp.full_attention_interval != 0;
    }
  }

  if (hp.arch == Arch::kQwen35) {
    HP_REQ(n_ff, "feed_forward_length");
  } else {
    HP_REQ(n_expert, "expert_count");
    HP_REQ(n_expert_used, "expert_used_count");
    HP_REQ(n_ff_expert, "expert_feed_forward_length");
    HP_REQ(n_ff_shared, "expert_shared_feed_forward_length");
    if (hp.n_expert_used > hp.n_expert) {
      return corrupt_data_error("expert_used_count exceeds expert_count");
    }
  }
#undef HP_REQ

  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) return not_found_error("tensor 'token_embd.weight' is missing");
  hp.n_vocab = embd->ne[1];
  return hp;
}

}  // namespace hearth::model
