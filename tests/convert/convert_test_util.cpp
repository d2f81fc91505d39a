// GGUF -> Hugging Face folder (inverse transforms) and other helpers for the convert tests.
#include "convert_test_util.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "gguf/gguf_writer.h"
#include "model/hparams.h"
#include "tensor/quant.h"

namespace hearth::convert::testing {

namespace fs = std::filesystem;
using nlohmann::json;

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path = (fs::temp_directory_path() /
          ("hearth_convert_" + std::to_string(getpid()) + "_" + std::to_string(counter++)))
             .string();
  fs::remove_all(path);
  fs::create_directories(path);
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

void write_tiny_gguf(const std::string& path, model::Arch arch, model::FileType type,
                     uint64_t seed) {
  model::SyntheticOptions opt;
  opt.arch = arch;
  opt.size = "tiny";
  opt.type = type;
  opt.seed = seed;
  const model::VocabData vocab = model::make_synthetic_vocab();
  ThreadPool pool(2);
  gguf::GgufWriter w;
  ASSERT_TRUE(model::build_synthetic_model(opt, vocab, w, pool).is_ok());
  ASSERT_TRUE(w.write_file(path).is_ok());
}

std::vector<float> tensor_values(const gguf::GgufFile& f, const std::string& name) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  std::vector<float> v(t->n_elements);
  const int64_t cols = t->ne[0];
  const int64_t rows = static_cast<int64_t>(t->n_elements) / cols;
  const size_t rb = row_bytes(t->type, cols);
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_TRUE(dequantize_row(t->type, t->data + r * rb, v.data() + r * cols, cols).is_ok());
  }
  return v;
}

namespace {

// Undoes the tiled order on `n_heads * hd` elements of `unit` floats starting at `base`.
void untile(std::vector<float>& v, int64_t base, int64_t hk, int64_t r, int64_t hd, int64_t unit) {
  const int64_t n_heads = hk * r, head = hd * unit;
  std::vector<float> src(v.begin() + base, v.begin() + base + n_heads * head);
  for (int64_t n = 0; n < n_heads; ++n) {
    const int64_t h = hf_head_of_gguf(n, hk, r);
    std::copy(src.begin() + n * head, src.begin() + (n + 1) * head, v.begin() + base + h * head);
  }
}

}  // namespace

void gguf_to_hf(const std::string& gguf_path, const std::string& dir, const HfOptions& o) {
  auto fr = gguf::GgufFile::open(gguf_path);
  ASSERT_TRUE(fr.is_ok()) << fr.status().to_string();
  const gguf::GgufFile& f = *fr;
  auto hpr = model::read_hparams(f);
  ASSERT_TRUE(hpr.is_ok()) << hpr.status().to_string();
  const model::HParams& hp = *hpr;
  const int64_t D = hp.n_embd, Hk = hp.ssm_k_heads, r = hp.ssm_v_heads / hp.ssm_k_heads;
  const int64_t dv = hp.ssm_v_dim, Kc = hp.conv_kernel;
  const bool moe = hp.arch == model::Arch::kQwen35Moe;
  const bool tied = f.find_tensor("output.weight") == nullptr;

  std::vector<StWriteTensor> tensors;
  auto put = [&](const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v) {
    tensors.push_back(make_st_tensor(name, o.dtype, std::move(shape), v));
  };
  const std::string P = o.text_only_prefix ? "model." : "model.language_model.";
  auto minus1 = [](std::vector<float> v) {
    for (float& x : v) x -= 1.0f;
    return v;
  };
  put(P + "embed_tokens.weight", {hp.n_vocab, D}, tensor_values(f, "token_embd.weight"));
  put(P + "norm.weight", {D}, minus1(tensor_values(f, "output_norm.weight")));
  if (!tied) put("lm_head.weight", {hp.n_vocab, D}, tensor_values(f, "output.weight"));
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const std::string l = P + "layers." + std::to_string(i) + ".";
    put(l + "input_layernorm.weight", {D}, minus1(tensor_values(f, b + "attn_norm.weight")));
    put(l + "post_attention_layernorm.weight", {D},
        minus1(tensor_values(f, b + "post_attention_norm.weight")));
    if (hp.is_recurrent[i]) {
      const std::string a = l + "linear_attn.";
      auto qkv = tensor_values(f, b + "attn_qkv.weight");
      untile(qkv, 2 * hp.key_dim() * D, Hk, r, dv, D);
      put(a + "in_proj_qkv.weight", {hp.conv_dim(), D}, qkv);
      auto z = tensor_values(f, b + "attn_gate.weight");
      untile(z, 0, Hk, r, dv, D);
      put(a + "in_proj_z.weight", {hp.value_dim(), D}, z);
      auto beta = tensor_values(f, b + "ssm_beta.weight");
      untile(beta, 0, Hk, r, 1, D);
      put(a + "in_proj_b.weight", {hp.ssm_v_heads, D}, beta);
      auto alpha = tensor_values(f, b + "ssm_alpha.weight");
      untile(alpha, 0, Hk, r, 1, D);
      put(a + "in_proj_a.weight", {hp.ssm_v_heads, D}, alpha);
      auto conv = tensor_values(f, b + "ssm_conv1d.weight");
      untile(conv, 2 * hp.key_dim() * Kc, Hk, r, dv, Kc);
      put(a + "conv1d.weight", {hp.conv_dim(), 1, Kc}, conv);
      auto dt = tensor_values(f, b + "ssm_dt.bias");
      untile(dt, 0, Hk, r, 1, 1);
      put(a + "dt_bias", {hp.ssm_v_heads}, dt);
      auto ssm_a = tensor_values(f, b + "ssm_a");
      untile(ssm_a, 0, Hk, r, 1, 1);
      for (float& x : ssm_a) x = std::log(-x);  // A_log
      tensors.push_back(make_st_tensor(a + "A_log", StDType::kF32, {hp.ssm_v_heads}, ssm_a));
      put(a + "norm.weight", {dv}, tensor_values(f, b + "ssm_norm.weight"));
      auto out = tensor_values(f, b + "ssm_out.weight");  // [D rows][value_dim]
      for (int64_t row = 0; row < D; ++row) untile(out, row * hp.value_dim(), Hk, r, dv, 1);
      put(a + "out_proj.weight", {D, hp.value_dim()}, out);
    } else {
      const std::string a = l + "self_attn.";
      const int64_t dh = hp.head_dim;
      put(a + "q_proj.weight", {hp.n_head * 2 * dh, D}, tensor_values(f, b + "attn_q.weight"));
      put(a + "k_proj.weight", {hp.n_head_kv * dh, D}, tensor_values(f, b + "attn_k.weight"));
      put(a + "v_proj.weight", {hp.n_head_kv * dh, D}, tensor_values(f, b + "attn_v.weight"));
      put(a + "o_proj.weight", {D, hp.n_head * dh}, tensor_values(f, b + "attn_output.weight"));
      put(a + "q_norm.weight", {dh}, minus1(tensor_values(f, b + "attn_q_norm.weight")));
      put(a + "k_norm.weight", {dh}, minus1(tensor_values(f, b + "attn_k_norm.weight")));
    }
    const std::string m = l + "mlp.";
    if (!moe) {
      put(m + "gate_proj.weight", {hp.n_ff, D}, tensor_values(f, b + "ffn_gate.weight"));
      put(m + "up_proj.weight", {hp.n_ff, D}, tensor_values(f, b + "ffn_up.weight"));
      put(m + "down_proj.weight", {D, hp.n_ff}, tensor_values(f, b + "ffn_down.weight"));
    } else {
      const int64_t E = hp.n_expert, Fe = hp.n_ff_expert, Fs = hp.n_ff_shared;
      put(m + "gate.weight", {E, D}, tensor_values(f, b + "ffn_gate_inp.weight"));
      auto g = tensor_values(f, b + "ffn_gate_exps.weight");
      auto u = tensor_values(f, b + "ffn_up_exps.weight");
      auto d = tensor_values(f, b + "ffn_down_exps.weight");
      if (o.fused_experts) {
        std::vector<float> gu;
        for (int64_t e = 0; e < E; ++e) {
          gu.insert(gu.end(), g.begin() + e * Fe * D, g.begin() + (e + 1) * Fe * D);
          gu.insert(gu.end(), u.begin() + e * Fe * D, u.begin() + (e + 1) * Fe * D);
        }
        put(m + "experts.gate_up_proj", {E, 2 * Fe, D}, gu);
        put(m + "experts.down_proj", {E, D, Fe}, d);
      } else {
        for (int64_t e = 0; e < E; ++e) {
          const std::string x = m + "experts." + std::to_string(e) + ".";
          put(x + "gate_proj.weight", {Fe, D},
              std::vector<float>(g.begin() + e * Fe * D, g.begin() + (e + 1) * Fe * D));
          put(x + "up_proj.weight", {Fe, D},
              std::vector<float>(u.begin() + e * Fe * D, u.begin() + (e + 1) * Fe * D));
          put(x + "down_proj.weight", {D, Fe},
              std::vector<float>(d.begin() + e * Fe * D, d.begin() + (e + 1) * Fe * D));
        }
      }
      put(m + "shared_expert_gate.weight", {1, D},
          tensor_values(f, b + "ffn_gate_inp_shexp.weight"));
      put(m + "shared_expert.gate_proj.weight", {Fs, D},
          tensor_values(f, b + "ffn_gate_shexp.weight"));
      put(m + "shared_expert.up_proj.weight", {Fs, D}, tensor_values(f, b + "ffn_up_shexp.weight"));
      put(m + "shared_expert.down_proj.weight", {D, Fs},
          tensor_values(f, b + "ffn_down_shexp.weight"));
    }
  }
  if (o.extra_tensors) {
    put("mtp.fc.weight", {4, 4}, std::vector<float>(16, 0.5f));
    put("model.visual.patch_embed.weight", {4}, std::vector<float>(4, 0.25f));
  }
  // Two shards, tensors alternating, plus the index.
  std::vector<StWriteTensor> shard[2];
  std::map<std::string, std::string> weight_map;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string fn =
        i % 2 ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
    weight_map[tensors[i].name] = fn;
    shard[i % 2].push_back(std::move(tensors[i]));
  }
  ASSERT_TRUE(write_safetensors(dir + "/model-00001-of-00002.safetensors", shard[0]).is_ok());
  ASSERT_TRUE(write_safetensors(dir + "/model-00002-of-00002.safetensors", shard[1]).is_ok());
  ASSERT_TRUE(write_safetensors_index(dir, weight_map).is_ok());

  // config.json
  json tc;
  tc["model_type"] = moe ? "qwen3_5_moe_text" : "qwen3_5_text";
  tc["vocab_size"] = hp.n_vocab;
  tc["hidden_size"] = D;
  tc["num_hidden_layers"] = hp.n_layer;
  tc["num_attention_heads"] = hp.n_head;
  tc["num_key_value_heads"] = hp.n_head_kv;
  tc["head_dim"] = hp.head_dim;
  tc["linear_num_key_heads"] = Hk;
  tc["linear_num_value_heads"] = hp.ssm_v_heads;
  tc["linear_key_head_dim"] = hp.ssm_k_dim;
  tc["linear_value_head_dim"] = dv;
  tc["linear_conv_kernel_dim"] = Kc;
  tc["full_attention_interval"] = hp.full_attention_interval;
  json lt = json::array();
  for (int64_t i = 0; i < hp.n_layer; ++i)
    lt.push_back(hp.is_recurrent[i] ? "linear_attention" : "full_attention");
  tc["layer_types"] = lt;
  tc["rms_norm_eps"] = 1e-6;
  tc["max_position_embeddings"] = 262144;
  tc["tie_word_embeddings"] = tied;
  const auto sections =
      f.get_int_array(std::string(model::arch_name(hp.arch)) + ".rope.dimension_sections");
  ASSERT_TRUE(sections.is_ok());
  tc["rope_parameters"] = {
      {"rope_type", "default"},
      {"rope_theta", 1e7},
      {"partial_rotary_factor", static_cast<double>(hp.rope_dims) / hp.head_dim},
      {"mrope_section", {(*sections)[0], (*sections)[1], (*sections)[2]}},
      {"mrope_interleaved", true}};
  if (moe) {
    tc["num_experts"] = hp.n_expert;
    tc["num_experts_per_tok"] = hp.n_expert_used;
    tc["moe_intermediate_size"] = hp.n_ff_expert;
    tc["shared_expert_intermediate_size"] = hp.n_ff_shared;
  } else {
    tc["intermediate_size"] = hp.n_ff;
  }
  json cfg;
  if (o.nested_config) {
    cfg["architectures"] = {moe ? "Qwen3_5MoeForConditionalGeneration"
                                : "Qwen3_5ForConditionalGeneration"};
    cfg["model_type"] = moe ? "qwen3_5_moe" : "qwen3_5";
    cfg["text_config"] = tc;
    cfg["tie_word_embeddings"] = tied;
  } else {
    cfg = tc;
    cfg["model_type"] = moe ? "qwen3_5_moe" : "qwen3_5";
  }
  std::ofstream(dir + "/config.json") << cfg.dump(2);

  // tokenizer.json / tokenizer_config.json from the GGUF's vocabulary.
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  auto types = f.get_int_array("tokenizer.ggml.token_type");
  auto merges = f.get_string_array("tokenizer.ggml.merges");
  ASSERT_TRUE(tokens.is_ok() && types.is_ok() && merges.is_ok());
  json vocab = json::object(), added = json::array();
  for (size_t i = 0; i < tokens->size(); ++i) {
    if ((*types)[i] == 3) {
      added.push_back({{"id", i}, {"content", (*tokens)[i]}, {"special", true}});
    } else if ((*types)[i] != 5) {
      vocab[(*tokens)[i]] = i;
    }
  }
  json tok;
  tok["version"] = "1.0";
  tok["added_tokens"] = added;
  tok["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", *merges}};
  std::ofstream(dir + "/tokenizer.json") << tok.dump();
  json tcfg;
  tcfg["eos_token"] = "<|im_end|>";
  tcfg["pad_token"] = "<|endoftext|>";
  tcfg["chat_template"] =
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";
  std::ofstream(dir + "/tokenizer_config.json") << tcfg.dump(2);
}

std::vector<float> prefill_logits(const model::Model& m, const std::vector<int32_t>& tokens,
                                  ThreadPool& pool) {
  std::vector<float> logits(tokens.size() * static_cast<size_t>(m.n_vocab()));
  model::SequenceState state = m.new_sequence();
  model::BatchEntry e{&state, tokens, model::LogitsMode::kAll, logits.data()};
  EXPECT_TRUE(m.forward(std::span<model::BatchEntry>(&e, 1), pool).is_ok());
  return logits;
}

double max_rel_error(const std::vector<float>& a, const std::vector<float>& ref) {
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref[i])));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(a[i]) - ref[i]));
  }
  return max_ref > 0 ? max_diff / max_ref : max_diff;
}

}  // namespace hearth::convert::testing
