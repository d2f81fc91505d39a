// Test helpers for src/model (see model_test_util.h). The reference forward deliberately uses
// nothing from src/model or src/kernels except the hyper-parameter reader: plain loops in double.
#include "model_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "model/hparams.h"
#include "tensor/quant.h"

namespace hearth::model::testing {

std::vector<uint8_t> synthetic_bytes(Arch arch, FileType type, uint64_t seed) {
  ThreadPool pool(2);
  VocabData vocab = make_synthetic_vocab();
  gguf::GgufWriter w;
  SyntheticOptions opt;
  opt.arch = arch;
  opt.size = "tiny";
  opt.type = type;
  opt.seed = seed;
  Status st = build_synthetic_model(opt, vocab, w, pool);
  if (!st.is_ok()) {
    ADD_FAILURE() << st.to_string();
    return {};
  }
  auto bytes = w.to_bytes();
  if (!bytes.is_ok()) {
    ADD_FAILURE() << bytes.status().to_string();
    return {};
  }
  return std::move(bytes).value();
}

TestModel load_bytes(std::vector<uint8_t> bytes, bool repack_for_kernels) {
  TestModel tm;
  tm.bytes = std::move(bytes);
  auto file = gguf::GgufFile::from_memory(tm.bytes.data(), tm.bytes.size());
  if (!file.is_ok()) {
    ADD_FAILURE() << file.status().to_string();
    return tm;
  }
  auto m = Model::from_gguf(std::move(file).value(), repack_for_kernels);
  if (!m.is_ok()) {
    ADD_FAILURE() << m.status().to_string();
    return tm;
  }
  tm.model = std::move(m).value();
  return tm;
}

TestModel make_tiny(Arch arch, FileType type, uint64_t seed) {
  return load_bytes(synthetic_bytes(arch, type, seed));
}

std::vector<uint8_t> rewrite(
    const std::vector<uint8_t>& bytes, const std::function<void(gguf::GgufWriter&)>& edit_kv,
    const std::function<bool(const std::string&, std::vector<int64_t>&)>& edit_tensor) {
  auto file = gguf::GgufFile::from_memory(bytes.data(), bytes.size());
  if (!file.is_ok()) return {};
  gguf::GgufWriter w(file->alignment());
  for (const auto& [key, value] : file->metadata()) w.set(key, value);
  if (edit_kv) edit_kv(w);
  for (const auto& t : file->tensors()) {
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    const std::vector<int64_t> orig = ne;
    if (edit_tensor && !edit_tensor(t.name, ne)) continue;
    if (ne == orig) {
      if (!w.add_tensor(t.name, t.type, ne, t.data, t.n_bytes).is_ok()) return {};
    } else {
      size_t n = row_bytes(t.type, ne[0]);
      for (size_t d = 1; d < ne.size(); ++d) n *= static_cast<size_t>(ne[d]);
      std::vector<uint8_t> zeros(n, 0);
      if (!w.add_tensor(t.name, t.type, ne, zeros.data(), n).is_ok()) return {};
    }
  }
  auto out = w.to_bytes();
  return out.is_ok() ? std::move(out).value() : std::vector<uint8_t>{};
}

namespace {

struct RefTensor {
  std::vector<double> v;  // row-major [rows][cols]
  int64_t cols = 0, rows = 0;
};

RefTensor get(const gguf::GgufFile& f, const std::string& name) {
  RefTensor t;
  const gguf::TensorInfo* info = f.find_tensor(name);
  if (!info) {
    ADD_FAILURE() << "reference: missing tensor " + name;
    return t;
  }
  t.cols = info->ne[0];
  t.rows = static_cast<int64_t>(info->n_elements) / t.cols;
  std::vector<float> row(t.cols);
  const size_t rb = row_bytes(info->type, t.cols);
  t.v.resize(info->n_elements);
  for (int64_t r = 0; r < t.rows; ++r) {
    if (!dequantize_row(info->type, info->data + r * rb, row.data(), t.cols).is_ok()) {
      ADD_FAILURE() << "reference: cannot dequantise " + name;
    }
    for (int64_t c = 0; c < t.cols; ++c) t.v[r * t.cols + c] = row[c];
  }
  return t;
}

std::vector<double> matvec(const RefTensor& w, const std::vector<double>& x, int64_t row0 = 0,
                           int64_t rows = -1) {
  if (rows < 0) rows = w.rows;
  std::vector<double> y(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    double acc = 0;
    const double* wr = w.v.data() + (row0 + r) * w.cols;
    for (int64_t c = 0; c < w.cols; ++c) acc += wr[c] * x[c];
    y[r] = acc;
  }
  return y;
}

void rms(double* x, int64_t n, const double* w, double eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const double s = 1.0 / std::sqrt(ss / n + eps);
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * s * (w ? w[i] : 1.0);
}

double sigm(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
double silu(double x) {
  return x * sigm(x);
}
double softplus(double x) {
  return x > 20 ? x : std::log1p(std::exp(x));
}

std::string blk_name(int64_t i, const char* s) {
  return "blk." + std::to_string(i) + "." + s;
}

// The tensors `names` of layer `il`, in order.
template <size_t N>
std::array<RefTensor, N> get_layer(const gguf::GgufFile& f, int64_t il,
                                   const char* const (&names)[N]) {
  std::array<RefTensor, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = get(f, blk_name(il, names[i]));
  return out;
}

}  // namespace

std::vector<double> reference_logits(const gguf::GgufFile& f, const std::vector<int32_t>& tokens) {
  auto hpr = read_hparams(f);
  if (!hpr.is_ok()) {
    ADD_FAILURE() << hpr.status().to_string();
    return {};
  }
  const HParams hp = *hpr;
  const int64_t T = static_cast<int64_t>(tokens.size()), D = hp.n_embd, V = hp.n_vocab;
  const double eps = hp.rms_eps;
  RefTensor embd = get(f, "token_embd.weight");
  std::vector<std::vector<double>> h(T, std::vector<double>(D));
  for (int64_t t = 0; t < T; ++t) {
    std::copy(embd.v.begin() + tokens[t] * D, embd.v.begin() + (tokens[t] + 1) * D, h[t].begin());
  }
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    RefTensor an = get(f, blk_name(il, "attn_norm.weight"));
    std::vector<std::vector<double>> x = h;
    for (auto& r : x) rms(r.data(), D, an.v.data(), eps);
    std::vector<std::vector<double>> y(T);
    if (hp.is_recurrent[il]) {
      const int64_t Hk = hp.ssm_k_heads, Hv = hp.ssm_v_heads, dk = hp.ssm_k_dim, dv = hp.ssm_v_dim,
                    Kc = hp.conv_kernel, C = hp.conv_dim(), key_dim = hp.key_dim(),
                    value_dim = hp.value_dim();
      const auto [wqkv, wz, wb, wa, wconv, dt, A, nw, wo] = get_layer(
          f, il,
          {"attn_qkv.weight", "attn_gate.weight", "ssm_beta.weight", "ssm_alpha.weight",
           "ssm_conv1d.weight", "ssm_dt.bias", "ssm_a", "ssm_norm.weight", "ssm_out.weight"});
      std::vector<std::vector<double>> raw(T);
      for (int64_t t = 0; t < T; ++t) raw[t] = matvec(wqkv, x[t]);
      std::vector<double> S(Hv * dk * dv, 0.0);
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> c(C);
        for (int64_t ch = 0; ch < C; ++ch) {
          double acc = 0;
          for (int64_t j = 0; j < Kc; ++j) {
            const int64_t s = t - (Kc - 1) + j;
            if (s >= 0) acc += wconv.v[ch * Kc + j] * raw[s][ch];
          }
          c[ch] = silu(acc);
        }
        auto l2 = [&](double* v, double post) {
          double ss = 0;
          for (int64_t i = 0; i < dk; ++i) ss += v[i] * v[i];
          const double s = post / std::sqrt(ss + 1e-6);
          for (int64_t i = 0; i < dk; ++i) v[i] *= s;
        };
        for (int64_t kh = 0; kh < Hk; ++kh) {
          l2(&c[kh * dk], 1.0 / std::sqrt(static_cast<double>(dk)));
          l2(&c[key_dim + kh * dk], 1.0);
        }
        std::vector<double> z = matvec(wz, x[t]), b = matvec(wb, x[t]), a = matvec(wa, x[t]);
        std::vector<double> core(value_dim);
        for (int64_t hv = 0; hv < Hv; ++hv) {
          const int64_t kh = hv % Hk;
          const double* q = &c[kh * dk];
          const double* k = &c[key_dim + kh * dk];
          const double* v = &c[2 * key_dim + hv * dv];
          const double beta = sigm(b[hv]);
          const double g = A.v[hv] * softplus(a[hv] + dt.v[hv]);
          double* Sh = &S[hv * dk * dv];
          for (int64_t i = 0; i < dk * dv; ++i) Sh[i] *= std::exp(g);
          for (int64_t j = 0; j < dv; ++j) {
            double m = 0;
            for (int64_t i = 0; i < dk; ++i) m += Sh[i * dv + j] * k[i];
            const double u = beta * (v[j] - m);
            for (int64_t i = 0; i < dk; ++i) Sh[i * dv + j] += k[i] * u;
          }
          double* o = &core[hv * dv];
          for (int64_t j = 0; j < dv; ++j) {
            double acc = 0;
            for (int64_t i = 0; i < dk; ++i) acc += Sh[i * dv + j] * q[i];
            o[j] = acc;
          }
          rms(o, dv, nw.v.data(), eps);
          for (int64_t j = 0; j < dv; ++j) o[j] *= silu(z[hv * dv + j]);
        }
        y[t] = matvec(wo, core);
      }
    } else {
      const int64_t Hq = hp.n_head, Hkv = hp.n_head_kv, dh = hp.head_dim, R = hp.rope_dims;
      const auto [wq, wk, wv, wo, qn, kn] =
          get_layer(f, il,
                    {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                     "attn_q_norm.weight", "attn_k_norm.weight"});
      auto rope = [&](double* v, int64_t pos) {
        for (int64_t i = 0; i < R / 2; ++i) {
          const double ang = pos * std::pow(static_cast<double>(hp.rope_theta), -2.0 * i / R);
          const double a = v[i], b = v[i + R / 2];
          v[i] = a * std::cos(ang) - b * std::sin(ang);
          v[i + R / 2] = b * std::cos(ang) + a * std::sin(ang);
        }
      };
      std::vector<std::vector<double>> qg(T), k(T), v(T);
      for (int64_t t = 0; t < T; ++t) {
        qg[t] = matvec(wq, x[t]);
        k[t] = matvec(wk, x[t]);
        v[t] = matvec(wv, x[t]);
        for (int64_t hh = 0; hh < Hq; ++hh) {
          rms(&qg[t][hh * 2 * dh], dh, qn.v.data(), eps);
          rope(&qg[t][hh * 2 * dh], t);
        }
        for (int64_t j = 0; j < Hkv; ++j) {
          rms(&k[t][j * dh], dh, kn.v.data(), eps);
          rope(&k[t][j * dh], t);
        }
      }
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> o(Hq * dh, 0.0);
        for (int64_t hh = 0; hh < Hq; ++hh) {
          const int64_t j = hh / (Hq / Hkv);
          std::vector<double> s(t + 1);
          double mx = -1e300;
          for (int64_t u = 0; u <= t; ++u) {
            double acc = 0;
            for (int64_t d = 0; d < dh; ++d) acc += qg[t][hh * 2 * dh + d] * k[u][j * dh + d];
            s[u] = acc / std::sqrt(static_cast<double>(dh));
            mx = std::max(mx, s[u]);
          }
          double sum = 0;
          for (auto& e : s) sum += (e = std::exp(e - mx));
          for (int64_t u = 0; u <= t; ++u) {
            for (int64_t d = 0; d < dh; ++d) o[hh * dh + d] += s[u] / sum * v[u][j * dh + d];
          }
          for (int64_t d = 0; d < dh; ++d) o[hh * dh + d] *= sigm(qg[t][hh * 2 * dh + dh + d]);
        }
        y[t] = matvec(wo, o);
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t d = 0; d < D; ++d) h[t][d] += y[t][d];
    }
    RefTensor pn = get(f, blk_name(il, "post_attention_norm.weight"));
    x = h;
    for (auto& r : x) rms(r.data(), D, pn.v.data(), eps);
    auto swiglu = [&](const RefTensor& g, const RefTensor& u, const RefTensor& dn, int64_t e,
                      int64_t F, const std::vector<double>& in) {
      std::vector<double> a = matvec(g, in, e * F, F), b = matvec(u, in, e * F, F);
      for (int64_t i = 0; i < F; ++i) a[i] = silu(a[i]) * b[i];
      return matvec(dn, a, e * D, D);
    };
    if (hp.arch == Arch::kQwen35) {
      const auto [g, u, dn] =
          get_layer(f, il, {"ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"});
      for (int64_t t = 0; t < T; ++t) {
        auto o = swiglu(g, u, dn, 0, hp.n_ff, x[t]);
        for (int64_t d = 0; d < D; ++d) h[t][d] += o[d];
      }
    } else {
      const auto [router, ge, ue, de, sg, gs, us, ds] =
          get_layer(f, il,
                    {"ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_up_exps.weight",
                     "ffn_down_exps.weight", "ffn_gate_inp_shexp.weight", "ffn_gate_shexp.weight",
                     "ffn_up_shexp.weight", "ffn_down_shexp.weight"});
      const int64_t E = hp.n_expert, K = hp.n_expert_used;
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> p = matvec(router, x[t]);
        const double mx = *std::max_element(p.begin(), p.end());
        double sum = 0;
        for (auto& e : p) sum += (e = std::exp(e - mx));
        for (auto& e : p) e /= sum;
        std::vector<int> order(E);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
        double wsum = 0;
        for (int64_t j = 0; j < K; ++j) wsum += p[order[j]];
        for (int64_t j = 0; j < K; ++j) {
          auto o = swiglu(ge, ue, de, order[j], hp.n_ff_expert, x[t]);
          for (int64_t d = 0; d < D; ++d) h[t][d] += p[order[j]] / wsum * o[d];
        }
        double gl = 0;
        for (int64_t d = 0; d < D; ++d) gl += sg.v[d] * x[t][d];
        auto o = swiglu(gs, us, ds, 0, hp.n_ff_shared, x[t]);
        for (int64_t d = 0; d < D; ++d) h[t][d] += sigm(gl) * o[d];
      }
    }
  }
  RefTensor on = get(f, "output_norm.weight");
  RefTensor head = f.find_tensor("output.weight") ? get(f, "output.weight") : embd;
  std::vector<double> logits(T * V);
  for (int64_t t = 0; t < T; ++t) {
    rms(h[t].data(), D, on.v.data(), eps);
    auto l = matvec(head, h[t]);
    std::copy(l.begin(), l.end(), logits.begin() + t * V);
  }
  return logits;
}

std::vector<float> run_prefill(const Model& m, const std::vector<int32_t>& tokens, ThreadPool& pool,
                               GdnMode mode) {
  SequenceState st = m.new_sequence();
  std::vector<float> logits(tokens.size() * m.n_vocab());
  BatchEntry e{&st, tokens, LogitsMode::kAll, logits.data()};
  ForwardOptions opt;
  opt.gdn_mode = mode;
  Status s = m.forward(std::span<BatchEntry>(&e, 1), pool, opt);
  if (!s.is_ok()) ADD_FAILURE() << s.to_string();
  return logits;
}

std::vector<float> run_decode(const Model& m, const std::vector<int32_t>& tokens,
                              ThreadPool& pool) {
  SequenceState st = m.new_sequence();
  std::vector<float> logits(tokens.size() * m.n_vocab());
  for (size_t t = 0; t < tokens.size(); ++t) {
    BatchEntry e{&st, std::span<const int32_t>(&tokens[t], 1), LogitsMode::kLast,
                 logits.data() + t * m.n_vocab()};
    Status s = m.forward(std::span<BatchEntry>(&e, 1), pool);
    if (!s.is_ok()) ADD_FAILURE() << s.to_string();
  }
  return logits;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, uint64_t seed) {
  std::vector<int32_t> t(n);
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (auto& v : t) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v = static_cast<int32_t>(x % static_cast<uint64_t>(n_vocab));
  }
  return t;
}

double max_rel_error(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::abs(a[i] - b[i]));
    den = std::max(den, std::abs(b[i]));
  }
  return num / std::max(den, 1e-30);
}

double max_rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<double> bd(b.begin(), b.end());
  return max_rel_error(a, bd);
}

}  // namespace hearth::model::testing
