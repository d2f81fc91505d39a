// Synthetic Qwen3.5 model generator (shapes of qwen35-architecture.md §1.3, names §8.3, keys
// §8.2, type mixing §10).
#include "model/synthetic.h"

#include <atomic>
#include <cmath>
#include <functional>
#include <memory>

#include "model/weights.h"
#include "tensor/quant.h"

namespace hearth::model {

namespace {

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

// Scales chosen so each sub-block adds a modest update to a residual stream that the embedding
// already carries: then weight noise (quantisation) is not amplified layer after layer, the way
// it would be if every layer rewrote the stream.
constexpr float kEmbdScale = 0.1f;  // std of token_embd (tied logits then have std ~1.6)
constexpr float kOutGain = 0.15f;   // std of output projections times sqrt(fan_in)

}  // namespace

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
  const int64_t D = hp.n_embd, L = hp.n_layer;

  ModelMetadata meta;
  meta.name = "hearth synthetic " + arch + " " + opt.size;
  meta.size_label = opt.size;
  meta.file_type = opt.type;
  {
    // mrope sections [11, 11, 10] for 32 frequencies; scaled for smaller rotary sizes.
    const int32_t nf = static_cast<int32_t>(hp.rope_dims / 2);
    const int32_t s0 = (nf * 11 + 16) / 32, s1 = (nf * 11 + 16) / 32;
    meta.rope_sections = {s0, s1, nf - s0 - s1, 0};
  }
  write_model_metadata(out, hp, vocab, meta);

  // ---- tensor list; types are chosen afterwards, as llama-quantize would ----
  std::vector<TensorSpec> specs;
  auto add = [&](const std::string& name, std::vector<int64_t> ne, Init init, float scale) {
    specs.push_back({name, std::move(ne), DType::kF32, init, scale});
  };
  auto add_mat = [&](const std::string& name, std::vector<int64_t> ne, float scale) {
    add(name, std::move(ne), Init::kUniform, scale);
  };
  auto norm = [&](const std::string& name, int64_t n) { add(name, {n}, Init::kNorm, 0.1f); };
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(D));
  add_mat("token_embd.weight", {D, hp.n_vocab}, kEmbdScale);
  norm("output_norm.weight", D);
  if (!tied) add_mat("output.weight", {D, hp.n_vocab}, in_scale);
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
      add(blk(i, "ssm_conv1d.weight"), {hp.conv_kernel, hp.conv_dim()}, Init::kConv, 0.0f);
      specs.back().mirror_begin = hp.key_dim();
      specs.back().mirror_rows = hp.key_dim();
      specs.back().mirror_mix = 0.9f;
      add(blk(i, "ssm_dt.bias"), {hp.ssm_v_heads}, Init::kDtBias, 0.0f);
      add(blk(i, "ssm_a"), {hp.ssm_v_heads}, Init::kSsmA, 0.0f);
      add(blk(i, "ssm_norm.weight"), {hp.ssm_v_dim}, Init::kNorm, 0.1f);
      add_mat(blk(i, "ssm_out.weight"), {hp.value_dim(), D}, out_scale);
    } else {
      const int64_t dh = hp.head_dim;
      add_mat(blk(i, "attn_q.weight"), {D, hp.n_head * 2 * dh}, in_scale);
      add_mat(blk(i, "attn_k.weight"), {D, hp.n_head_kv * dh}, in_scale);
      add_mat(blk(i, "attn_v.weight"), {D, hp.n_head_kv * dh}, in_scale);
      add_mat(blk(i, "attn_output.weight"), {hp.n_head * dh, D},
              kOutGain / std::sqrt(static_cast<float>(hp.n_head * dh)));
      norm(blk(i, "attn_q_norm.weight"), dh);
      norm(blk(i, "attn_k_norm.weight"), dh);
    }
    norm(blk(i, "post_attention_norm.weight"), D);
    if (hp.arch == Arch::kQwen35) {
      const float down_scale = kOutGain / std::sqrt(static_cast<float>(hp.n_ff));
      add_mat(blk(i, "ffn_gate.weight"), {D, hp.n_ff}, in_scale);
      add_mat(blk(i, "ffn_up.weight"), {D, hp.n_ff}, in_scale);
      add_mat(blk(i, "ffn_down.weight"), {hp.n_ff, D}, down_scale);
    } else {
      const int64_t E = hp.n_expert, Fe = hp.n_ff_expert, Fs = hp.n_ff_shared;
      // The router stays F32 (llama.cpp never quantises ffn_gate_inp).
      // Router logits with std ~4 so that routing is decisive (as in trained models) rather than
      // a near-tie that any rounding flips.
      add(blk(i, "ffn_gate_inp.weight"), {D, E}, Init::kUniform, 4.0f * in_scale);
      add_mat(blk(i, "ffn_gate_exps.weight"), {D, Fe, E}, in_scale);
      add_mat(blk(i, "ffn_up_exps.weight"), {D, Fe, E}, in_scale);
      add_mat(blk(i, "ffn_down_exps.weight"), {Fe, D, E},
              kOutGain / std::sqrt(static_cast<float>(Fe)));
      add(blk(i, "ffn_gate_inp_shexp.weight"), {D}, Init::kUniform, in_scale);
      add_mat(blk(i, "ffn_gate_shexp.weight"), {D, Fs}, in_scale);
      add_mat(blk(i, "ffn_up_shexp.weight"), {D, Fs}, in_scale);
      add_mat(blk(i, "ffn_down_shexp.weight"), {Fs, D},
              kOutGain / std::sqrt(static_cast<float>(Fs)));
    }
  }

  {
    std::vector<TensorDesc> descs;
    descs.reserve(specs.size());
    for (const TensorSpec& s : specs) descs.push_back({s.name, s.ne, s.type});
    const std::vector<DType> types = plan_tensor_types(opt.type, descs, L);
    for (size_t i = 0; i < specs.size(); ++i) specs[i].type = types[i];
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
