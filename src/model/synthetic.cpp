// Synthetic Qwen3.5 model generator (shapes of qwen35-architecture.md §1.3, names §8.3, keys
// §8.2, type mixing §10).
#include "model/synthetic.h"

#include <atomic>
#include <cctype>
#include <cmath>
#include <functional>
#include <memory>

#include "model/weights.h"
#include "tensor/quant.h"

namespace hearth::model {

namespace {

struct FileTypeInfo {
  FileType type;
  const char* name;
  uint32_t ftype;
  DType base;
};
constexpr FileTypeInfo kFileTypes[] = {
    {FileType::kF32, "f32", 0, DType::kF32},     {FileType::kF16, "f16", 1, DType::kF16},
    {FileType::kBF16, "bf16", 32, DType::kBF16}, {FileType::kQ8_0, "q8_0", 7, DType::kQ8_0},
    {FileType::kQ4_0, "q4_0", 2, DType::kQ4_0},  {FileType::kQ4_K_M, "q4_k_m", 15, DType::kQ4_K},
    {FileType::kQ6_K, "q6_k", 18, DType::kQ6_K},
};

const FileTypeInfo& info(FileType t) {
  for (const auto& i : kFileTypes) {
    if (i.type == t) return i;
  }
  return kFileTypes[0];
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  return h;
}

// Uniform in [0, 1) from a counter: element `i` of the tensor with key `key`.
inline double unit(uint64_t key, uint64_t i) {
  return static_cast<double>(splitmix64(key ^ splitmix64(i)) >> 11) * (1.0 / 9007199254740992.0);
}

// How the values of a tensor are drawn.
enum class Init {
  kUniform,  // zero-mean uniform with standard deviation `scale`
  kNorm,     // 1 + uniform(-scale, scale): stored (1 + w) RMSNorm weights
  kSsmA,     // -A, A ~ U(1, 16)  (ssm_a = -exp(A_log))
  kDtBias,   // inverse softplus of dt, dt log-uniform in [1e-3, 1e-1]
  kConv,     // causal conv taps: current tap 1 +- 0.2, older taps +- 0.4
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> ne;
  DType type;
  Init init;
  float scale;
  // Rows [mirror_begin, mirror_begin + mirror_rows) are correlated with rows
  // [mirror_begin - mirror_rows, mirror_begin): random GDN q and k would be nearly orthogonal,
  // which makes every q.k tiny and the normalised GDN outputs noise-dominated; trained models
  // align them.
  int64_t mirror_begin = 0;
  int64_t mirror_rows = 0;
  float mirror_mix = 0.0f;
};

float draw(Init init, float scale, uint64_t key, uint64_t i) {
  const double u = unit(key, i);
  switch (init) {
    case Init::kUniform:
      return static_cast<float>((2.0 * u - 1.0) * std::sqrt(3.0) * scale);
    case Init::kNorm:
      return static_cast<float>(1.0 + (2.0 * u - 1.0) * scale);
    case Init::kSsmA:
      return static_cast<float>(-(1.0 + 15.0 * u));
    case Init::kDtBias: {
      const double dt = std::exp(std::log(1e-3) + u * (std::log(1e-1) - std::log(1e-3)));
      return static_cast<float>(dt + std::log(-std::expm1(-dt)));
    }
    case Init::kConv:
      return 0.0f;  // needs the tap index: see draw_element
  }
  return 0.0f;
}

float draw_element(const TensorSpec& s, uint64_t key, int64_t row, int64_t col, int64_t cols) {
  auto one = [&](int64_t r) {
    const uint64_t i = static_cast<uint64_t>(r) * static_cast<uint64_t>(cols) + col;
    if (s.init == Init::kConv) {
      const double u = 2.0 * unit(key, i) - 1.0;
      return static_cast<float>(col == cols - 1 ? 1.0 + 0.2 * u : 0.4 * u);
    }
    return draw(s.init, s.scale, key, i);
  };
  if (s.mirror_rows > 0 && row >= s.mirror_begin && row < s.mirror_begin + s.mirror_rows) {
    const float src = one(row - s.mirror_rows), own = one(row);
    const float m = s.mirror_mix;
    if (s.init == Init::kConv) return m * src + (1.0f - m) * own;
    return m * src + std::sqrt(1.0f - m * m) * own;
  }
  return one(row);
}

// A type the row length allows (llama-quantize falls back when ne0 is not a block multiple).
DType fit_type(DType want, int64_t ne0) {
  if (ne0 % block_size(want) == 0) return want;
  if (ne0 % 32 == 0) return DType::kQ8_0;
  return DType::kF16;
}

// Scales chosen so each sub-block adds a modest update to a residual stream that the embedding
// already carries: then weight noise (quantisation) is not amplified layer after layer, the way
// it would be if every layer rewrote the stream.
constexpr float kEmbdScale = 0.1f;  // std of token_embd (tied logits then have std ~1.6)
constexpr float kOutGain = 0.15f;   // std of output projections times sqrt(fan_in)

bool more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

}  // namespace

std::optional<FileType> file_type_from_name(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& i : kFileTypes) {
    if (lower == i.name) return i.type;
  }
  return std::nullopt;
}
const char* file_type_name(FileType type) {
  return info(type).name;
}
uint32_t llama_ftype(FileType type) {
  return info(type).ftype;
}

std::string byte_to_unicode(uint8_t b) {
  // GPT-2: printable bytes map to themselves, the rest to 256 + k in byte order.
  auto printable = [](int c) {
    return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174;
  };
  uint32_t cp = b;
  if (!printable(b)) {
    int k = 0;
    for (int c = 0; c < b; ++c) k += printable(c) ? 0 : 1;
    cp = 256 + k;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

VocabData make_synthetic_vocab() {
  VocabData v;
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(byte_to_unicode(static_cast<uint8_t>(b)));
    v.token_types.push_back(1);
  }
  const char* pairs[][2] = {{"Ġ", "t"},   {"Ġ", "a"}, {"h", "e"}, {"i", "n"},
                            {"Ġt", "he"}, {"r", "e"}, {"o", "n"}, {"e", "r"},
                            {"Ġ", "s"},   {"a", "t"}, {"Ġ", "w"}, {"o", "r"},
                            {"e", "n"},   {"Ġ", "c"}, {"i", "s"}, {"Ġ", "o"}};
  for (auto& p : pairs) {
    v.merges.push_back(std::string(p[0]) + " " + p[1]);
    v.tokens.push_back(std::string(p[0]) + p[1]);
    v.token_types.push_back(1);
  }
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    v.tokens.push_back(special);
    v.token_types.push_back(3);
  }
  const int32_t n = static_cast<int32_t>(v.tokens.size());
  v.bos_id = n - 3;
  v.eos_id = n - 1;
  v.pad_id = n - 3;
  return v;
}

Result<HParams> synthetic_hparams(Arch arch, std::string_view size, bool* tied_output) {
  HParams hp;
  hp.arch = arch;
  hp.context_length = 262144;
  hp.rms_eps = 1e-6f;
  hp.head_dim = 256;
  hp.rope_dims = 64;
  hp.rope_theta = 1e7f;
  hp.conv_kernel = 4;
  hp.ssm_k_heads = 16;
  hp.ssm_k_dim = 128;
  hp.ssm_v_dim = 128;
  hp.full_attention_interval = 4;
  bool tied = false;
  struct Dense {
    const char* size;
    int64_t D, L, Hq, Hkv, Hv, F;
    bool tied;
  };
  static constexpr Dense kDense[] = {
      {"0.8b", 1024, 24, 8, 2, 16, 3584, true},   {"2b", 2048, 24, 8, 2, 16, 6144, true},
      {"4b", 2560, 32, 16, 4, 32, 9216, true},    {"9b", 4096, 32, 16, 4, 32, 12288, false},
      {"27b", 5120, 64, 24, 4, 48, 17408, false},
  };
  if (size == "tiny") {
    hp.n_embd = 256;
    hp.n_layer = 5;
    hp.n_head = 4;
    hp.n_head_kv = 2;
    hp.head_dim = 64;
    hp.rope_dims = 16;
    hp.ssm_k_heads = 2;
    hp.ssm_v_heads = 4;
    hp.ssm_k_dim = 64;
    hp.ssm_v_dim = 64;
    if (arch == Arch::kQwen35) {
      hp.n_ff = 512;
      tied = true;
    } else {
      hp.n_expert = 8;
      hp.n_expert_used = 2;
      hp.n_ff_expert = 256;
      hp.n_ff_shared = 256;
    }
  } else if (size == "35b-a3b") {
    if (arch != Arch::kQwen35Moe) {
      return invalid_argument_error("size 35b-a3b needs --arch qwen35moe");
    }
    hp.n_embd = 2048;
    hp.n_layer = 40;
    hp.n_head = 16;
    hp.n_head_kv = 2;
    hp.ssm_v_heads = 32;
    hp.n_expert = 256;
    hp.n_expert_used = 8;
    hp.n_ff_expert = 512;
    hp.n_ff_shared = 512;
  } else {
    const Dense* d = nullptr;
    for (const auto& c : kDense) {
      if (size == c.size) d = &c;
    }
    if (!d) {
      return invalid_argument_error(
          str_format("unknown size '%.*s' (tiny, 0.8b, 2b, 4b, 9b, 27b, 35b-a3b)",
                     static_cast<int>(size.size()), size.data()));
    }
    if (arch != Arch::kQwen35) {
      return invalid_argument_error(str_format("size %s needs --arch qwen35", d->size));
    }
    hp.n_embd = d->D;
    hp.n_layer = d->L;
    hp.n_head = d->Hq;
    hp.n_head_kv = d->Hkv;
    hp.ssm_v_heads = d->Hv;
    hp.n_ff = d->F;
    tied = d->tied;
  }
  hp.n_block = hp.n_layer;
  hp.is_recurrent.resize(hp.n_layer);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    hp.is_recurrent[i] = (i + 1) % hp.full_attention_interval != 0;
  }
  if (tied_output) *tied_output = tied;
  return hp;
}

Status build_synthetic_model(const SyntheticOptions& opt, const VocabData& vocab,
                             gguf::GgufWriter& out, ThreadPool& pool) {
  bool tied = false;
  HEARTH_ASSIGN_OR_RETURN(HParams hp, synthetic_hparams(opt.arch, opt.size, &tied));
  const int64_t n_tokens = static_cast<int64_t>(vocab.tokens.size());
  if (n_tokens == 0) return invalid_argument_error("synthetic model needs a non-empty vocabulary");
  hp.n_vocab = opt.n_vocab > 0 ? opt.n_vocab : (opt.size == "tiny" ? n_tokens : 248320);
  if (hp.n_vocab < n_tokens) {
    return invalid_argument_error(str_format("n_vocab %lld is smaller than the vocabulary (%lld)",
                                             static_cast<long long>(hp.n_vocab),
                                             static_cast<long long>(n_tokens)));
  }
  const std::string arch = arch_name(hp.arch);
  const std::string P = arch + ".";
  const FileTypeInfo& ft = info(opt.type);
  const int64_t D = hp.n_embd, L = hp.n_layer;

  // ---- metadata, in llama.cpp's order ----
  out.set_string("general.architecture", arch);
  out.set_string("general.type", "model");
  out.set_string("general.name", "hearth synthetic " + arch + " " + opt.size);
  out.set_string("general.size_label", opt.size);
  out.set_u32(P + "block_count", static_cast<uint32_t>(hp.n_block));
  out.set_u32(P + "context_length", static_cast<uint32_t>(hp.context_length));
  out.set_u32(P + "embedding_length", static_cast<uint32_t>(D));
  if (hp.arch == Arch::kQwen35)
    out.set_u32(P + "feed_forward_length", static_cast<uint32_t>(hp.n_ff));
  out.set_u32(P + "attention.head_count", static_cast<uint32_t>(hp.n_head));
  out.set_u32(P + "attention.head_count_kv", static_cast<uint32_t>(hp.n_head_kv));
  out.set_f32(P + "rope.freq_base", hp.rope_theta);
  out.set_f32(P + "attention.layer_norm_rms_epsilon", hp.rms_eps);
  if (hp.arch == Arch::kQwen35Moe) {
    out.set_u32(P + "expert_count", static_cast<uint32_t>(hp.n_expert));
    out.set_u32(P + "expert_used_count", static_cast<uint32_t>(hp.n_expert_used));
  }
  out.set_u32(P + "attention.key_length", static_cast<uint32_t>(hp.head_dim));
  out.set_u32(P + "attention.value_length", static_cast<uint32_t>(hp.head_dim));
  out.set_u32("general.file_type", ft.ftype);
  if (hp.arch == Arch::kQwen35Moe) {
    out.set_u32(P + "expert_feed_forward_length", static_cast<uint32_t>(hp.n_ff_expert));
    out.set_u32(P + "expert_shared_feed_forward_length", static_cast<uint32_t>(hp.n_ff_shared));
  }
  out.set_u32(P + "rope.dimension_count", static_cast<uint32_t>(hp.rope_dims));
  {
    // mrope sections [11, 11, 10] for 32 frequencies; scaled for smaller rotary sizes.
    const int32_t nf = static_cast<int32_t>(hp.rope_dims / 2);
    const int32_t s0 = (nf * 11 + 16) / 32, s1 = (nf * 11 + 16) / 32;
    out.set_i32_array(P + "rope.dimension_sections", {s0, s1, nf - s0 - s1, 0});
  }
  out.set_u32(P + "ssm.conv_kernel", static_cast<uint32_t>(hp.conv_kernel));
  out.set_u32(P + "ssm.state_size", static_cast<uint32_t>(hp.ssm_k_dim));
  out.set_u32(P + "ssm.group_count", static_cast<uint32_t>(hp.ssm_k_heads));
  out.set_u32(P + "ssm.time_step_rank", static_cast<uint32_t>(hp.ssm_v_heads));
  out.set_u32(P + "ssm.inner_size", static_cast<uint32_t>(hp.value_dim()));
  out.set_u32(P + "full_attention_interval", static_cast<uint32_t>(hp.full_attention_interval));

  out.set_string("tokenizer.ggml.model", "gpt2");
  out.set_string("tokenizer.ggml.pre", vocab.pre);
  {
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
  if (vocab.eos_id >= 0)
    out.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab.eos_id));
  if (vocab.pad_id >= 0)
    out.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(vocab.pad_id));
  if (vocab.bos_id >= 0)
    out.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab.bos_id));
  out.set_bool("tokenizer.ggml.add_bos_token", false);
  if (!vocab.chat_template.empty()) out.set_string("tokenizer.chat_template", vocab.chat_template);
  out.set_u32("general.quantization_version", 2);

  // ---- tensor list with llama-quantize-like type choice ----
  std::vector<TensorSpec> specs;
  const bool q4km = opt.type == FileType::kQ4_K_M;
  const bool q6_output = q4km || opt.type == FileType::kQ4_0;
  auto mat_type = [&](const std::string& name, int64_t ne0, bool bump) {
    DType t = ft.base;
    if (bump) t = DType::kQ6_K;
    (void)name;
    return fit_type(t, ne0);
  };
  auto add = [&](const std::string& name, std::vector<int64_t> ne, DType type, Init init,
                 float scale) {
    specs.push_back({name, std::move(ne), type, init, scale});
  };
  auto add_mat = [&](const std::string& name, std::vector<int64_t> ne, float scale,
                     bool bump = false) {
    add(name, ne, mat_type(name, ne[0], bump), Init::kUniform, scale);
  };
  auto norm = [&](const std::string& name, int64_t n) {
    add(name, {n}, DType::kF32, Init::kNorm, 0.1f);
  };
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(D));
  add_mat("token_embd.weight", {D, hp.n_vocab}, kEmbdScale, tied && q6_output);
  norm("output_norm.weight", D);
  if (!tied) add_mat("output.weight", {D, hp.n_vocab}, in_scale, q6_output);
  const int64_t n_attn = hp.n_attention_layers();
  int64_t i_attn = 0;
  for (int64_t i = 0; i < L; ++i) {
    norm(blk(i, "attn_norm.weight"), D);
    if (hp.is_recurrent[i]) {
      const float out_scale = kOutGain / std::sqrt(static_cast<float>(hp.value_dim()));
      add_mat(blk(i, "attn_qkv.weight"), {D, hp.conv_dim()}, in_scale);
      specs.back().mirror_begin = hp.key_dim();
      specs.back().mirror_rows = hp.key_dim();
      specs.back().mirror_mix = 0.9f;
      add_mat(blk(i, "attn_gate.weight"), {D, hp.value_dim()}, in_scale);
      add_mat(blk(i, "ssm_beta.weight"), {D, hp.ssm_v_heads}, in_scale);
      add_mat(blk(i, "ssm_alpha.weight"), {D, hp.ssm_v_heads}, in_scale);
      add(blk(i, "ssm_conv1d.weight"), {hp.conv_kernel, hp.conv_dim()}, DType::kF32, Init::kConv,
          0.0f);
      specs.back().mirror_begin = hp.key_dim();
      specs.back().mirror_rows = hp.key_dim();
      specs.back().mirror_mix = 0.9f;
      add(blk(i, "ssm_dt.bias"), {hp.ssm_v_heads}, DType::kF32, Init::kDtBias, 0.0f);
      add(blk(i, "ssm_a"), {hp.ssm_v_heads}, DType::kF32, Init::kSsmA, 0.0f);
      add(blk(i, "ssm_norm.weight"), {hp.ssm_v_dim}, DType::kF32, Init::kNorm, 0.1f);
      add_mat(blk(i, "ssm_out.weight"), {hp.value_dim(), D}, out_scale);
    } else {
      const int64_t dh = hp.head_dim;
      add_mat(blk(i, "attn_q.weight"), {D, hp.n_head * 2 * dh}, in_scale);
      add_mat(blk(i, "attn_k.weight"), {D, hp.n_head_kv * dh}, in_scale);
      add_mat(blk(i, "attn_v.weight"), {D, hp.n_head_kv * dh}, in_scale,
              q4km && more_bits(i_attn, n_attn));
      add_mat(blk(i, "attn_output.weight"), {hp.n_head * dh, D},
              kOutGain / std::sqrt(static_cast<float>(hp.n_head * dh)));
      norm(blk(i, "attn_q_norm.weight"), dh);
      norm(blk(i, "attn_k_norm.weight"), dh);
      ++i_attn;
    }
    norm(blk(i, "post_attention_norm.weight"), D);
    const bool bump_down = q4km && more_bits(i, L);
    if (hp.arch == Arch::kQwen35) {
      const float down_scale = kOutGain / std::sqrt(static_cast<float>(hp.n_ff));
      add_mat(blk(i, "ffn_gate.weight"), {D, hp.n_ff}, in_scale);
      add_mat(blk(i, "ffn_up.weight"), {D, hp.n_ff}, in_scale);
      add_mat(blk(i, "ffn_down.weight"), {hp.n_ff, D}, down_scale, bump_down);
    } else {
      const int64_t E = hp.n_expert, Fe = hp.n_ff_expert, Fs = hp.n_ff_shared;
      // The router stays F32 (llama.cpp never quantises ffn_gate_inp).
      // Router logits with std ~4 so that routing is decisive (as in trained models) rather than
      // a near-tie that any rounding flips.
      add(blk(i, "ffn_gate_inp.weight"), {D, E}, DType::kF32, Init::kUniform, 4.0f * in_scale);
      add_mat(blk(i, "ffn_gate_exps.weight"), {D, Fe, E}, in_scale);
      add_mat(blk(i, "ffn_up_exps.weight"), {D, Fe, E}, in_scale);
      add_mat(blk(i, "ffn_down_exps.weight"), {Fe, D, E},
              kOutGain / std::sqrt(static_cast<float>(Fe)), bump_down);
      add(blk(i, "ffn_gate_inp_shexp.weight"), {D}, DType::kF32, Init::kUniform, in_scale);
      add_mat(blk(i, "ffn_gate_shexp.weight"), {D, Fs}, in_scale);
      add_mat(blk(i, "ffn_up_shexp.weight"), {D, Fs}, in_scale);
      add_mat(blk(i, "ffn_down_shexp.weight"), {Fs, D},
              kOutGain / std::sqrt(static_cast<float>(Fs)), bump_down);
    }
  }

  // ---- lazily generated data: element i of tensor `name` depends only on (seed, name, i) ----
  ThreadPool* pool_ptr = &pool;
  for (const TensorSpec& s : specs) {
    const uint64_t key = splitmix64(opt.seed) ^ fnv1a(s.name);
    const int64_t cols = s.ne[0];
    int64_t rows = 1;
    for (size_t d = 1; d < s.ne.size(); ++d) rows *= s.ne[d];
    const DType type = s.type;
    const TensorSpec spec = s;
    const std::string name = s.name;
    auto fill = [=](uint8_t* dst, size_t n_bytes) -> Status {
      const size_t rb = row_bytes(type, cols);
      if (rb * static_cast<size_t>(rows) != n_bytes) {
        return internal_error("synthetic tensor '" + name + "': size mismatch");
      }
      std::atomic<bool> failed{false};
      pool_ptr->parallel_for(rows, [&](int64_t b, int64_t e) {
        std::vector<float> row(cols);
        for (int64_t r = b; r < e; ++r) {
          for (int64_t c = 0; c < cols; ++c) row[c] = draw_element(spec, key, r, c, cols);
          if (!quantize_row(type, row.data(), dst + r * rb, cols).is_ok()) failed = true;
        }
      });
      if (failed) {
        return internal_error(str_format("cannot encode synthetic tensor '%s' as %s", name.c_str(),
                                         dtype_name(type)));
      }
      return Status::ok();
    };
    HEARTH_RETURN_IF_ERROR(out.add_tensor_lazy(s.name, s.type, s.ne, fill));
  }
  return Status::ok();
}

}  // namespace hearth::model
