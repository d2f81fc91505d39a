// Hugging Face folder -> GGUF: config.json -> llama.cpp metadata (§8.2), HF tensor names ->
// GGUF names (§8.3), the converter transforms of §8.4-8.5, and the tokenizer keys of §8.7.
// Every source tensor's shape is checked against the config before anything is written.
#include "convert/convert.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/mapped_file.h"
#include "convert/hf_vocab.h"
#include "convert/safetensors.h"
#include "gguf/gguf_writer.h"
#include "model/gguf_metadata.h"
#include "model/hparams.h"
#include "tensor/quant.h"

namespace hearth::convert {

namespace {

namespace fs = std::filesystem;
using model::Arch;
using model::HParams;
using nlohmann::json;

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// ---------------- config.json ----------------

struct HfConfig {
  HParams hp;
  bool tied = false;
  std::vector<int32_t> mrope_sections;  // [4]
  int32_t bos_token_id = -1;
  int32_t eos_token_id = -1;
};

Result<int64_t> req_int(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer() || it->get<int64_t>() < 0) {
    return invalid_argument_error(std::string("config.json: missing or invalid integer field '") +
                                  key + "'");
  }
  return it->get<int64_t>();
}

int64_t opt_int(const json& obj, const char* key, int64_t dflt) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : dflt;
}

double opt_num(const json& obj, const char* key, double dflt) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<double>() : dflt;
}

Result<HfConfig> read_config(const std::string& dir) {
  const std::string path = (fs::path(dir) / "config.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec))
    return not_found_error(dir + ": no config.json (not a Hugging Face model folder?)");
  HEARTH_ASSIGN_OR_RETURN(std::string text, read_file(path));
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object())
    return corrupt_data_error(path + ": not a JSON object");
  const json& tc =
      root.contains("text_config") && root["text_config"].is_object() ? root["text_config"] : root;
  std::string model_type = root.value("model_type", std::string());
  if (model_type.empty()) model_type = tc.value("model_type", std::string());
  HfConfig c;
  HParams& hp = c.hp;
  if (model_type == "qwen3_5" || model_type == "qwen3_5_text") {
    hp.arch = Arch::kQwen35;
  } else if (model_type == "qwen3_5_moe" || model_type == "qwen3_5_moe_text") {
    hp.arch = Arch::kQwen35Moe;
  } else {
    return unsupported_error("config.json: unsupported model_type '" + model_type +
                             "' (hearth converts qwen3_5 and qwen3_5_moe)");
  }
  HEARTH_ASSIGN_OR_RETURN(hp.n_vocab, req_int(tc, "vocab_size"));
  HEARTH_ASSIGN_OR_RETURN(hp.n_embd, req_int(tc, "hidden_size"));
  HEARTH_ASSIGN_OR_RETURN(hp.n_layer, req_int(tc, "num_hidden_layers"));
  HEARTH_ASSIGN_OR_RETURN(hp.n_head, req_int(tc, "num_attention_heads"));
  HEARTH_ASSIGN_OR_RETURN(hp.n_head_kv, req_int(tc, "num_key_value_heads"));
  HEARTH_ASSIGN_OR_RETURN(hp.head_dim, req_int(tc, "head_dim"));
  HEARTH_ASSIGN_OR_RETURN(hp.ssm_k_heads, req_int(tc, "linear_num_key_heads"));
  HEARTH_ASSIGN_OR_RETURN(hp.ssm_v_heads, req_int(tc, "linear_num_value_heads"));
  HEARTH_ASSIGN_OR_RETURN(hp.ssm_k_dim, req_int(tc, "linear_key_head_dim"));
  HEARTH_ASSIGN_OR_RETURN(hp.ssm_v_dim, req_int(tc, "linear_value_head_dim"));
  hp.conv_kernel = opt_int(tc, "linear_conv_kernel_dim", 4);
  hp.n_block = hp.n_layer;
  hp.context_length = opt_int(tc, "max_position_embeddings", 262144);
  hp.rms_eps = static_cast<float>(opt_num(tc, "rms_norm_eps", 1e-6));
  hp.full_attention_interval = opt_int(tc, "full_attention_interval", 4);
  // Rope parameters: `rope_parameters` (current transformers) or the older top-level fields.
  const json empty = json::object();
  const json& rp =
      tc.contains("rope_parameters") && tc["rope_parameters"].is_object()
          ? tc["rope_parameters"]
          : (tc.contains("rope_scaling") && tc["rope_scaling"].is_object() ? tc["rope_scaling"]
                                                                           : empty);
  hp.rope_theta = static_cast<float>(opt_num(rp, "rope_theta", opt_num(tc, "rope_theta", 1e7)));
  const double partial =
      opt_num(rp, "partial_rotary_factor", opt_num(tc, "partial_rotary_factor", 0.25));
  hp.rope_dims = static_cast<int64_t>(static_cast<double>(hp.head_dim) * partial);
  c.mrope_sections = {11, 11, 10, 0};
  if (rp.contains("mrope_section") && rp["mrope_section"].is_array()) {
    c.mrope_sections.clear();
    for (const auto& v : rp["mrope_section"]) {
      if (!v.is_number_integer()) return invalid_argument_error("config.json: bad mrope_section");
      c.mrope_sections.push_back(v.get<int32_t>());
    }
    if (c.mrope_sections.size() > 4)
      return invalid_argument_error("config.json: mrope_section has more than 4 entries");
    c.mrope_sections.resize(4, 0);
  }
  if (tc.contains("tie_word_embeddings") && tc["tie_word_embeddings"].is_boolean()) {
    c.tied = tc["tie_word_embeddings"].get<bool>();
  } else if (root.contains("tie_word_embeddings") && root["tie_word_embeddings"].is_boolean()) {
    c.tied = root["tie_word_embeddings"].get<bool>();
  }
  c.bos_token_id =
      static_cast<int32_t>(opt_int(tc, "bos_token_id", opt_int(root, "bos_token_id", -1)));
  c.eos_token_id =
      static_cast<int32_t>(opt_int(tc, "eos_token_id", opt_int(root, "eos_token_id", -1)));
  if (hp.arch == Arch::kQwen35) {
    HEARTH_ASSIGN_OR_RETURN(hp.n_ff, req_int(tc, "intermediate_size"));
  } else {
    HEARTH_ASSIGN_OR_RETURN(hp.n_expert, req_int(tc, "num_experts"));
    HEARTH_ASSIGN_OR_RETURN(hp.n_expert_used, req_int(tc, "num_experts_per_tok"));
    HEARTH_ASSIGN_OR_RETURN(hp.n_ff_expert, req_int(tc, "moe_intermediate_size"));
    HEARTH_ASSIGN_OR_RETURN(hp.n_ff_shared, req_int(tc, "shared_expert_intermediate_size"));
  }
  if (hp.n_embd <= 0 || hp.n_layer <= 0 || hp.n_head <= 0 || hp.n_head_kv <= 0 ||
      hp.head_dim <= 0 || hp.ssm_k_heads <= 0 || hp.ssm_v_heads <= 0 || hp.ssm_k_dim <= 0 ||
      hp.ssm_v_dim <= 0 || hp.conv_kernel <= 0 || hp.n_vocab <= 0 ||
      hp.full_attention_interval <= 0) {
    return invalid_argument_error("config.json: a size field is zero");
  }
  if (hp.ssm_v_heads % hp.ssm_k_heads != 0) {
    return invalid_argument_error(str_format(
        "config.json: linear_num_value_heads %lld is not a multiple of linear_num_key_heads %lld",
        static_cast<long long>(hp.ssm_v_heads), static_cast<long long>(hp.ssm_k_heads)));
  }
  hp.is_recurrent.resize(hp.n_layer);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    hp.is_recurrent[i] = (i + 1) % hp.full_attention_interval != 0;
  }
  // llama.cpp's loaders rebuild the schedule from full_attention_interval, so an explicit
  // layer_types list must agree with it.
  if (tc.contains("layer_types") && tc["layer_types"].is_array()) {
    const json& lt = tc["layer_types"];
    if (static_cast<int64_t>(lt.size()) != hp.n_layer) {
      return invalid_argument_error(
          "config.json: layer_types does not have num_hidden_layers entries");
    }
    for (int64_t i = 0; i < hp.n_layer; ++i) {
      const std::string t = lt[i].is_string() ? lt[i].get<std::string>() : "";
      if (t != "linear_attention" && t != "full_attention") {
        return invalid_argument_error("config.json: unknown layer type '" + t + "'");
      }
      if ((t == "linear_attention") != hp.is_recurrent[i]) {
        return unsupported_error(str_format(
            "config.json: layer_types[%lld] = %s does not follow full_attention_interval %lld",
            static_cast<long long>(i), t.c_str(),
            static_cast<long long>(hp.full_attention_interval)));
      }
    }
  }
  return c;
}

// ---------------- tokenizer ----------------

Result<model::VocabData> read_tokenizer(const std::string& dir, const HfConfig& cfg) {
  const std::string path = (fs::path(dir) / "tokenizer.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return not_found_error(dir + ": no tokenizer.json");
  HfVocabOptions options;
  options.n_vocab = cfg.hp.n_vocab;
  options.bos_fallback = cfg.bos_token_id;
  options.eos_fallback = cfg.eos_token_id;
  return read_hf_vocab(path, options);
}

// ---------------- tensors ----------------

// One GGUF tensor and how to compute its float32 values (in ggml order) from the sources.
struct OutTensor {
  std::string name;
  std::vector<int64_t> ne;
  std::function<void(std::vector<float>&)> produce;  // resizes to prod(ne)
};

std::vector<float> load(const StTensor* t) {
  std::vector<float> v(static_cast<size_t>(t->n_elements()));
  st_to_f32(*t, v.data());
  return v;
}

class Planner {
 public:
  Planner(const SafetensorsModel& st, const HParams& hp) : st_(st), hp_(hp) {}

  Status detect_prefix() {
    for (const char* p : {"model.language_model.", "model.", ""}) {
      if (st_.find(std::string(p) + "embed_tokens.weight")) {
        prefix_ = p;
        return Status::ok();
      }
    }
    return not_found_error(
        "no embed_tokens.weight tensor (looked for model.language_model.embed_tokens.weight "
        "and model.embed_tokens.weight)");
  }

  // A source tensor that must exist with exactly `shape`.
  Result<const StTensor*> get(const std::string& hf_name, const std::vector<int64_t>& shape,
                              bool with_prefix = true) {
    const std::string full = with_prefix ? prefix_ + hf_name : hf_name;
    const StTensor* t = st_.find(full);
    if (!t) return not_found_error("missing tensor '" + full + "'");
    if (t->shape != shape) {
      return invalid_argument_error("tensor '" + full + "' has shape " + shape_str(t->shape) +
                                    ", expected " + shape_str(shape) + " from config.json");
    }
    used_.push_back(full);
    return t;
  }
  bool has(const std::string& hf_name) const { return st_.find(prefix_ + hf_name) != nullptr; }
  const std::string& prefix() const { return prefix_; }
  const std::vector<std::string>& used() const { return used_; }

 private:
  const SafetensorsModel& st_;
  const HParams& hp_;
  std::string prefix_;
  std::vector<std::string> used_;
};

std::string blk(int64_t i, const char* suffix) {
  return "blk." + std::to_string(i) + "." + suffix;
}
std::string lyr(int64_t i, const char* suffix) {
  return "layers." + std::to_string(i) + "." + suffix;
}

Result<std::vector<OutTensor>> plan_tensors(const SafetensorsModel& st, const HfConfig& cfg) {
  const HParams& hp = cfg.hp;
  Planner p(st, hp);
  HEARTH_RETURN_IF_ERROR(p.detect_prefix());
  const int64_t D = hp.n_embd, V = hp.n_vocab;
  const int64_t Hk = hp.ssm_k_heads, r = hp.ssm_v_heads / hp.ssm_k_heads, dv = hp.ssm_v_dim;
  const int64_t key_dim = hp.key_dim(), value_dim = hp.value_dim(), conv_dim = hp.conv_dim();
  std::vector<OutTensor> out;

  auto copy = [&](const std::string& name, std::vector<int64_t> ne, const StTensor* t) {
    out.push_back({name, std::move(ne), [t](std::vector<float>& v) { v = load(t); }});
  };
  auto norm1 = [&](const std::string& name, int64_t n, const StTensor* t) {
    out.push_back({name, {n}, [t](std::vector<float>& v) {
                     v = load(t);
                     for (float& x : v) x += 1.0f;
                   }});
  };
  // Rows [row0, row0 + Hv*hd) of a [rows][cols] matrix reordered (hd rows per value head).
  auto rows_reordered = [=](const StTensor* t, int64_t row0, int64_t hd, int64_t cols) {
    return [=](std::vector<float>& v) {
      std::vector<float> src = load(t);
      v = src;
      reorder_value_heads(src.data() + row0 * cols, v.data() + row0 * cols, Hk, r, hd, cols);
    };
  };

  HEARTH_ASSIGN_OR_RETURN(const StTensor* embd, p.get("embed_tokens.weight", {V, D}));
  copy("token_embd.weight", {D, V}, embd);
  HEARTH_ASSIGN_OR_RETURN(const StTensor* onorm, p.get("norm.weight", {D}));
  norm1("output_norm.weight", D, onorm);
  if (!cfg.tied) {
    HEARTH_ASSIGN_OR_RETURN(const StTensor* head,
                            p.get("lm_head.weight", {V, D}, /*with_prefix=*/false));
    copy("output.weight", {D, V}, head);
  }

  for (int64_t i = 0; i < hp.n_layer; ++i) {
    HEARTH_ASSIGN_OR_RETURN(const StTensor* in_norm, p.get(lyr(i, "input_layernorm.weight"), {D}));
    norm1(blk(i, "attn_norm.weight"), D, in_norm);
    if (hp.is_recurrent[i]) {
      HEARTH_ASSIGN_OR_RETURN(const StTensor* qkv,
                              p.get(lyr(i, "linear_attn.in_proj_qkv.weight"), {conv_dim, D}));
      out.push_back(
          {blk(i, "attn_qkv.weight"), {D, conv_dim}, rows_reordered(qkv, 2 * key_dim, dv, D)});
      HEARTH_ASSIGN_OR_RETURN(const StTensor* z,
                              p.get(lyr(i, "linear_attn.in_proj_z.weight"), {value_dim, D}));
      out.push_back({blk(i, "attn_gate.weight"), {D, value_dim}, rows_reordered(z, 0, dv, D)});
      HEARTH_ASSIGN_OR_RETURN(const StTensor* b,
                              p.get(lyr(i, "linear_attn.in_proj_b.weight"), {hp.ssm_v_heads, D}));
      out.push_back({blk(i, "ssm_beta.weight"), {D, hp.ssm_v_heads}, rows_reordered(b, 0, 1, D)});
      HEARTH_ASSIGN_OR_RETURN(const StTensor* a,
                              p.get(lyr(i, "linear_attn.in_proj_a.weight"), {hp.ssm_v_heads, D}));
      out.push_back({blk(i, "ssm_alpha.weight"), {D, hp.ssm_v_heads}, rows_reordered(a, 0, 1, D)});
      HEARTH_ASSIGN_OR_RETURN(const StTensor* conv, p.get(lyr(i, "linear_attn.conv1d.weight"),
                                                          {conv_dim, 1, hp.conv_kernel}));
      // [C, 1, Kc] squeezed to [C][Kc] = ggml [Kc, C]; the V channels are reordered.
      out.push_back({blk(i, "ssm_conv1d.weight"),
                     {hp.conv_kernel, conv_dim},
                     rows_reordered(conv, 2 * key_dim, dv, hp.conv_kernel)});
      HEARTH_ASSIGN_OR_RETURN(const StTensor* dt,
                              p.get(lyr(i, "linear_attn.dt_bias"), {hp.ssm_v_heads}));
      out.push_back({blk(i, "ssm_dt.bias"), {hp.ssm_v_heads}, rows_reordered(dt, 0, 1, 1)});
      HEARTH_ASSIGN_OR_RETURN(const StTensor* alog,
                              p.get(lyr(i, "linear_attn.A_log"), {hp.ssm_v_heads}));
      out.push_back({blk(i, "ssm_a"), {hp.ssm_v_heads}, [=](std::vector<float>& v) {
                       std::vector<float> src = load(alog);
                       v.resize(src.size());
                       reorder_value_heads(src.data(), v.data(), Hk, r, 1, 1);
                       for (float& x : v) x = -std::exp(x);
                     }});
      HEARTH_ASSIGN_OR_RETURN(const StTensor* sn, p.get(lyr(i, "linear_attn.norm.weight"), {dv}));
      copy(blk(i, "ssm_norm.weight"), {dv}, sn);  // gated RMSNorm weight: no +1
      HEARTH_ASSIGN_OR_RETURN(const StTensor* op,
                              p.get(lyr(i, "linear_attn.out_proj.weight"), {D, value_dim}));
      out.push_back({blk(i, "ssm_out.weight"), {value_dim, D}, [=](std::vector<float>& v) {
                       std::vector<float> src = load(op);
                       v.resize(src.size());
                       for (int64_t row = 0; row < D; ++row) {
                         reorder_value_heads(src.data() + row * value_dim,
                                             v.data() + row * value_dim, Hk, r, dv, 1);
                       }
                     }});
    } else {
      const int64_t dh = hp.head_dim;
      HEARTH_ASSIGN_OR_RETURN(const StTensor* q,
                              p.get(lyr(i, "self_attn.q_proj.weight"), {hp.n_head * 2 * dh, D}));
      copy(blk(i, "attn_q.weight"), {D, hp.n_head * 2 * dh}, q);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* k,
                              p.get(lyr(i, "self_attn.k_proj.weight"), {hp.n_head_kv * dh, D}));
      copy(blk(i, "attn_k.weight"), {D, hp.n_head_kv * dh}, k);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* vv,
                              p.get(lyr(i, "self_attn.v_proj.weight"), {hp.n_head_kv * dh, D}));
      copy(blk(i, "attn_v.weight"), {D, hp.n_head_kv * dh}, vv);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* o,
                              p.get(lyr(i, "self_attn.o_proj.weight"), {D, hp.n_head * dh}));
      copy(blk(i, "attn_output.weight"), {hp.n_head * dh, D}, o);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* qn, p.get(lyr(i, "self_attn.q_norm.weight"), {dh}));
      norm1(blk(i, "attn_q_norm.weight"), dh, qn);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* kn, p.get(lyr(i, "self_attn.k_norm.weight"), {dh}));
      norm1(blk(i, "attn_k_norm.weight"), dh, kn);
    }
    HEARTH_ASSIGN_OR_RETURN(const StTensor* pn,
                            p.get(lyr(i, "post_attention_layernorm.weight"), {D}));
    norm1(blk(i, "post_attention_norm.weight"), D, pn);
    if (hp.arch == Arch::kQwen35) {
      const int64_t F = hp.n_ff;
      HEARTH_ASSIGN_OR_RETURN(const StTensor* g, p.get(lyr(i, "mlp.gate_proj.weight"), {F, D}));
      copy(blk(i, "ffn_gate.weight"), {D, F}, g);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* u, p.get(lyr(i, "mlp.up_proj.weight"), {F, D}));
      copy(blk(i, "ffn_up.weight"), {D, F}, u);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* d, p.get(lyr(i, "mlp.down_proj.weight"), {D, F}));
      copy(blk(i, "ffn_down.weight"), {F, D}, d);
    } else {
      const int64_t E = hp.n_expert, Fe = hp.n_ff_expert, Fs = hp.n_ff_shared;
      HEARTH_ASSIGN_OR_RETURN(const StTensor* router, p.get(lyr(i, "mlp.gate.weight"), {E, D}));
      copy(blk(i, "ffn_gate_inp.weight"), {D, E}, router);
      if (p.has(lyr(i, "mlp.experts.gate_up_proj"))) {
        // Fused [E, 2*Fe, D]: per expert, the first Fe rows are gate, the next Fe up.
        HEARTH_ASSIGN_OR_RETURN(const StTensor* gu,
                                p.get(lyr(i, "mlp.experts.gate_up_proj"), {E, 2 * Fe, D}));
        for (int half = 0; half < 2; ++half) {
          out.push_back({blk(i, half == 0 ? "ffn_gate_exps.weight" : "ffn_up_exps.weight"),
                         {D, Fe, E},
                         [=](std::vector<float>& v) {
                           std::vector<float> src = load(gu);
                           v.resize(static_cast<size_t>(E * Fe * D));
                           for (int64_t e = 0; e < E; ++e) {
                             std::memcpy(v.data() + e * Fe * D,
                                         src.data() + (e * 2 * Fe + half * Fe) * D,
                                         static_cast<size_t>(Fe * D) * sizeof(float));
                           }
                         }});
        }
        HEARTH_ASSIGN_OR_RETURN(const StTensor* dn,
                                p.get(lyr(i, "mlp.experts.down_proj"), {E, D, Fe}));
        copy(blk(i, "ffn_down_exps.weight"), {Fe, D, E}, dn);
      } else {
        // Per-expert tensors, stacked along a new outer expert axis.
        const char* parts[3][2] = {{"gate_proj", "ffn_gate_exps.weight"},
                                   {"up_proj", "ffn_up_exps.weight"},
                                   {"down_proj", "ffn_down_exps.weight"}};
        for (auto& part : parts) {
          const bool down = std::strcmp(part[0], "down_proj") == 0;
          const std::vector<int64_t> shape =
              down ? std::vector<int64_t>{D, Fe} : std::vector<int64_t>{Fe, D};
          std::vector<const StTensor*> experts;
          for (int64_t e = 0; e < E; ++e) {
            const std::string n =
                lyr(i, "mlp.experts.") + std::to_string(e) + "." + part[0] + ".weight";
            HEARTH_ASSIGN_OR_RETURN(const StTensor* t, p.get(n, shape));
            experts.push_back(t);
          }
          std::vector<int64_t> ne =
              down ? std::vector<int64_t>{Fe, D, E} : std::vector<int64_t>{D, Fe, E};
          out.push_back({blk(i, part[1]), ne, [experts](std::vector<float>& v) {
                           const size_t per = static_cast<size_t>(experts[0]->n_elements());
                           v.resize(per * experts.size());
                           for (size_t e = 0; e < experts.size(); ++e)
                             st_to_f32(*experts[e], v.data() + e * per);
                         }});
        }
      }
      HEARTH_ASSIGN_OR_RETURN(const StTensor* sg,
                              p.get(lyr(i, "mlp.shared_expert_gate.weight"), {1, D}));
      copy(blk(i, "ffn_gate_inp_shexp.weight"), {D}, sg);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* sgp,
                              p.get(lyr(i, "mlp.shared_expert.gate_proj.weight"), {Fs, D}));
      copy(blk(i, "ffn_gate_shexp.weight"), {D, Fs}, sgp);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* sup,
                              p.get(lyr(i, "mlp.shared_expert.up_proj.weight"), {Fs, D}));
      copy(blk(i, "ffn_up_shexp.weight"), {D, Fs}, sup);
      HEARTH_ASSIGN_OR_RETURN(const StTensor* sdp,
                              p.get(lyr(i, "mlp.shared_expert.down_proj.weight"), {D, Fs}));
      copy(blk(i, "ffn_down_shexp.weight"), {Fs, D}, sdp);
    }
  }
  // Tensors of the language model that were not used are reported (vision and MTP weights are
  // expected leftovers: they go to other files / are not converted yet).
  std::vector<std::string> used = p.used();
  std::sort(used.begin(), used.end());
  int64_t unused = 0;
  for (const auto& n : st.names()) {
    if (std::binary_search(used.begin(), used.end(), n)) continue;
    if (n.rfind("mtp.", 0) == 0 || n.find("visual") != std::string::npos) continue;
    if (n == "lm_head.weight" && cfg.tied) continue;
    if (unused++ < 5) LOG_WARN("convert: tensor '%s' is not used", n.c_str());
  }
  if (unused > 5) LOG_WARN("convert: %lld tensors not used in all", static_cast<long long>(unused));
  return out;
}

}  // namespace

void reorder_value_heads(const float* src, float* dst, int64_t hk, int64_t r, int64_t hd,
                         int64_t unit) {
  const size_t head_floats = static_cast<size_t>(hd * unit);
  for (int64_t g = 0; g < hk; ++g) {
    for (int64_t j = 0; j < r; ++j) {
      std::memcpy(dst + (j * hk + g) * head_floats, src + (g * r + j) * head_floats,
                  head_floats * sizeof(float));
    }
  }
}

Status convert_hf(const std::string& hf_dir, const std::string& out_gguf, FileType type,
                  ThreadPool& pool, ProgressFn progress) {
  HEARTH_ASSIGN_OR_RETURN(HfConfig cfg, read_config(hf_dir));
  HEARTH_ASSIGN_OR_RETURN(SafetensorsModel st, SafetensorsModel::open_dir(hf_dir));
  HEARTH_ASSIGN_OR_RETURN(model::VocabData vocab, read_tokenizer(hf_dir, cfg));
  HEARTH_ASSIGN_OR_RETURN(std::vector<OutTensor> tensors, plan_tensors(st, cfg));

  std::vector<TensorDesc> descs;
  for (const auto& t : tensors) descs.push_back({t.name, t.ne, DType::kF32});
  const std::vector<DType> types = plan_tensor_types(type, descs, cfg.hp.n_layer);

  std::string name = fs::path(hf_dir).filename().string();
  if (name.empty()) name = fs::path(hf_dir).parent_path().filename().string();
  gguf::GgufWriter writer;
  model::ModelMetadata meta;
  meta.name = name;
  meta.file_type = type;
  meta.rope_sections = cfg.mrope_sections;
  model::write_model_metadata(writer, cfg.hp, vocab, meta);

  auto done = std::make_shared<std::atomic<int64_t>>(0);
  const int64_t total = static_cast<int64_t>(tensors.size());
  ThreadPool* pool_ptr = &pool;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const OutTensor* t = &tensors[i];
    const DType dst_type = types[i];
    auto fill = [=](uint8_t* dst, size_t n_bytes) -> Status {
      std::vector<float> values;
      t->produce(values);
      const int64_t cols = t->ne[0];
      const int64_t rows = static_cast<int64_t>(values.size()) / cols;
      if (row_bytes(dst_type, cols) * static_cast<size_t>(rows) != n_bytes) {
        return internal_error("convert: size mismatch for " + t->name);
      }
      HEARTH_RETURN_IF_ERROR(convert_rows(DType::kF32,
                                          reinterpret_cast<const uint8_t*>(values.data()), dst_type,
                                          dst, cols, rows, *pool_ptr)
                                 .with_context("tensor '" + t->name + "'"));
      const int64_t d = ++*done;
      if (progress) progress(d, total, t->name);
      return Status::ok();
    };
    HEARTH_RETURN_IF_ERROR(writer.add_tensor_lazy(t->name, dst_type, t->ne, fill));
  }
  return writer.write_file(out_gguf);
}

}  // namespace hearth::convert
