// Qwen3.5 GGUF metadata writer (keys and order of llama.cpp's convert_hf_to_gguf.py output).
#include "model/gguf_metadata.h"

namespace hearth::model {

void write_model_metadata(gguf::GgufWriter& out, const HParams& hp, const VocabData& vocab,
                          const ModelMetadata& meta) {
  const std::string arch = arch_name(hp.arch);
  const std::string P = arch + ".";
  auto u32 = [&](const std::string& key, int64_t v) {
    out.set_u32(P + key, static_cast<uint32_t>(v));
  };
  out.set_string("general.architecture", arch);
  out.set_string("general.type", "model");
  out.set_string("general.name", meta.name);
  if (!meta.size_label.empty()) out.set_string("general.size_label", meta.size_label);
  u32("block_count", hp.n_block);
  u32("context_length", hp.context_length);
  u32("embedding_length", hp.n_embd);
  if (hp.arch == Arch::kQwen35) u32("feed_forward_length", hp.n_ff);
  u32("attention.head_count", hp.n_head);
  u32("attention.head_count_kv", hp.n_head_kv);
  out.set_f32(P + "rope.freq_base", hp.rope_theta);
  out.set_f32(P + "attention.layer_norm_rms_epsilon", hp.rms_eps);
  if (hp.arch == Arch::kQwen35Moe) {
    u32("expert_count", hp.n_expert);
    u32("expert_used_count", hp.n_expert_used);
  }
  u32("attention.key_length", hp.head_dim);
  u32("attention.value_length", hp.head_dim);
  out.set_u32("general.file_type", llama_ftype(meta.file_type));
  if (hp.arch == Arch::kQwen35Moe) {
    u32("expert_feed_forward_length", hp.n_ff_expert);
    u32("expert_shared_feed_forward_length", hp.n_ff_shared);
  }
  u32("rope.dimension_count", hp.rope_dims);
  out.set_i32_array(P + "rope.dimension_sections", meta.rope_sections);
  u32("ssm.conv_kernel", hp.conv_kernel);
  u32("ssm.state_size", hp.ssm_k_dim);
  u32("ssm.group_count", hp.ssm_k_heads);
  u32("ssm.time_step_rank", hp.ssm_v_heads);
  u32("ssm.inner_size", hp.value_dim());
  u32("full_attention_interval", hp.full_attention_interval);

  out.set_string("tokenizer.ggml.model", "gpt2");
  out.set_string("tokenizer.ggml.pre", vocab.pre);
  const int64_t n_tokens = static_cast<int64_t>(vocab.tokens.size());
  if (n_tokens >= hp.n_vocab && vocab.token_types.size() == vocab.tokens.size()) {
    out.set_string_array("tokenizer.ggml.tokens", vocab.tokens);
    out.set_i32_array("tokenizer.ggml.token_type", vocab.token_types);
  } else {
    std::vector<std::string> tokens = vocab.tokens;
    std::vector<int32_t> types = vocab.token_types;
    types.resize(tokens.size(), 1);
    for (int64_t i = n_tokens; i < hp.n_vocab; ++i) {
      tokens.push_back("[PAD" + std::to_string(i) + "]");
      types.push_back(5);
    }
    out.set_string_array("tokenizer.ggml.tokens", tokens);
    out.set_i32_array("tokenizer.ggml.token_type", types);
  }
  out.set_string_array("tokenizer.ggml.merges", vocab.merges);
  auto id = [&](const char* key, int32_t v) {
    if (v >= 0) out.set_u32(key, static_cast<uint32_t>(v));
  };
  id("tokenizer.ggml.eos_token_id", vocab.eos_id);
  id("tokenizer.ggml.padding_token_id", vocab.pad_id);
  id("tokenizer.ggml.bos_token_id", vocab.bos_id);
  out.set_bool("tokenizer.ggml.add_bos_token", false);
  if (!vocab.chat_template.empty()) out.set_string("tokenizer.chat_template", vocab.chat_template);
  out.set_u32("general.quantization_version", 2);
}

}  // namespace hearth::model
