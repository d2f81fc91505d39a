// Gated DeltaNet block (qwen35-architecture.md §4).
#include "model/blocks/gated_deltanet.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/aligned_buffer.h"
#include "kernels/kernels.h"

namespace hearth::model {

void delta_rule_recurrent(const DeltaRuleInput& in, float* S, float* o, int64_t o_stride) {
  // The fused kernel reads S twice and writes it once per token (decay, prediction, update and
  // readout as separate passes read it five times): per stream this is the state traffic of
  // every decode step.
  for (int64_t t = 0; t < in.n_tokens; ++t) {
    kernels::delta_rule_step(S, in.dk, in.dv, in.q + t * in.qk_stride, in.k + t * in.qk_stride,
                             in.v + t * in.v_stride, std::exp(in.g[t * in.gb_stride]),
                             in.beta[t * in.gb_stride], o + t * o_stride);
  }
}

void delta_rule_chunked(const DeltaRuleInput& in, float* S, float* o, int64_t o_stride,
                        int64_t chunk) {
  const int64_t dk = in.dk, dv = in.dv, C = chunk;
  std::vector<float> gam(C);     // [C] inclusive prefix sum of g
  std::vector<float> A(C * C);   // [C][C] M, then T = (I + M)^-1 (lower, unit diagonal)
  std::vector<float> U(C * dv);  // [C][dv] T (beta V), then V' = U - W S
  std::vector<float> W(C * dk);  // [C][dk] T (beta exp(gamma) K)
  std::vector<float> P(C * C);   // [C][C] decayed intra-chunk scores Q K^T
  std::vector<float> row(C);     // [C] scratch row of T
  std::vector<float> kd(dk);     // [dk] scratch scaled key
  for (int64_t c0 = 0; c0 < in.n_tokens; c0 += C) {
    // A short final chunk is exactly a padded one: padded rows never reach real outputs.
    const int64_t n = std::min(C, in.n_tokens - c0);
    auto Q = [&](int64_t r) { return in.q + (c0 + r) * in.qk_stride; };
    auto K = [&](int64_t r) { return in.k + (c0 + r) * in.qk_stride; };
    auto V = [&](int64_t r) { return in.v + (c0 + r) * in.v_stride; };
    auto beta = [&](int64_t r) { return in.beta[(c0 + r) * in.gb_stride]; };
    float acc = 0.0f;
    for (int64_t r = 0; r < n; ++r) {
      acc += in.g[(c0 + r) * in.gb_stride];
      gam[r] = acc;
    }
    // T by forward substitution: T[r,:] = e_r - sum_{s<r} M[r][s] T[s,:], M strictly lower.
    for (int64_t r = 0; r < n; ++r) {
      std::fill(row.begin(), row.begin() + n, 0.0f);
      row[r] = 1.0f;
      for (int64_t s = 0; s < r; ++s) {
        const float m = beta(r) * kernels::dot(K(r), K(s), dk) * std::exp(gam[r] - gam[s]);
        if (m != 0.0f) {
          for (int64_t c = 0; c <= s; ++c) row[c] -= m * A[s * C + c];
        }
      }
      std::copy(row.begin(), row.begin() + n, A.begin() + r * C);
    }
    // U = T (beta V), W = T (beta exp(gamma) K).
    for (int64_t r = 0; r < n; ++r) {
      float* u = U.data() + r * dv;
      float* w = W.data() + r * dk;
      std::fill(u, u + dv, 0.0f);
      std::fill(w, w + dk, 0.0f);
      for (int64_t s = 0; s <= r; ++s) {
        const float t = A[r * C + s] * beta(s);
        if (t == 0.0f) continue;
        kernels::axpy(t, V(s), u, dv);
        kernels::axpy(t * std::exp(gam[s]), K(s), w, dk);
      }
      // V'[r] = U[r] - W[r] S
      for (int64_t i = 0; i < dk; ++i) kernels::axpy(-w[i], S + i * dv, u, dv);
    }
    // Outputs: O[r] = exp(gamma_r) Q_r S + sum_{s<=r} (Q_r.K_s) exp(gamma_r - gamma_s) V'[s].
    for (int64_t r = 0; r < n; ++r) {
      float* out = o + (c0 + r) * o_stride;
      std::fill(out, out + dv, 0.0f);
      const float* q = Q(r);
      const float eg = std::exp(gam[r]);
      for (int64_t i = 0; i < dk; ++i) kernels::axpy(eg * q[i], S + i * dv, out, dv);
      for (int64_t s = 0; s <= r; ++s) {
        P[r * C + s] = kernels::dot(q, K(s), dk) * std::exp(gam[r] - gam[s]);
        kernels::axpy(P[r * C + s], U.data() + s * dv, out, dv);
      }
    }
    // S_next = exp(gamma_last) S + sum_s exp(gamma_last - gamma_s) K_s V'[s]^T.
    const float glast = gam[n - 1];
    kernels::scale(S, std::exp(glast), dk * dv);
    for (int64_t s = 0; s < n; ++s) {
      const float e = std::exp(glast - gam[s]);
      const float* k = K(s);
      for (int64_t i = 0; i < dk; ++i) kd[i] = e * k[i];
      const float* vp = U.data() + s * dv;
      for (int64_t i = 0; i < dk; ++i) kernels::axpy(kd[i], vp, S + i * dv, dv);
    }
  }
}

namespace {

// x * rsqrt(sum(x^2) + eps) (HF/FLA placement of eps), then * post_scale.
void l2_normalize(float* x, int64_t n, float post_scale) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float s = static_cast<float>(1.0 / std::sqrt(ss + 1e-6)) * post_scale;
  kernels::scale(x, s, n);
}

}  // namespace

void gated_deltanet_forward(const HParams& hp, const GdnWeights& w, int64_t layer, const float* x,
                            const BatchLayout& batch, GdnMode mode, float* out, ThreadPool& pool) {
  const int64_t N = batch.n_tokens, D = hp.n_embd;
  const int64_t conv_dim = hp.conv_dim(), key_dim = hp.key_dim(), value_dim = hp.value_dim();
  const int64_t Hk = hp.ssm_k_heads, Hv = hp.ssm_v_heads, dk = hp.ssm_k_dim, dv = hp.ssm_v_dim;
  const int64_t Kc = hp.conv_kernel;

  FloatScratch qkv(N * conv_dim);    // [N][conv_dim] raw projections
  FloatScratch conv(N * conv_dim);   // [N][conv_dim] silu(conv(qkv)) -> q | k | v
  FloatScratch z(N * value_dim);     // [N][value_dim]
  std::vector<float> g(N * Hv);      // [N][Hv] beta logits, then log-decay
  std::vector<float> beta(N * Hv);   // [N][Hv]
  FloatScratch core(N * value_dim);  // [N][value_dim] delta-rule outputs
  const kernels::MatmulOutput proj[] = {{&w.qkv, qkv.data(), conv_dim},
                                        {&w.gate, z.data(), value_dim},
                                        {&w.beta, beta.data(), Hv},
                                        {&w.alpha, g.data(), Hv}};
  kernels::matmul_shared_input(proj, x, D, N, pool);

  // Causal depthwise conv per channel, continuing each sequence's conv state. Channels are the
  // innermost loop (contiguous rows of qkv, conv and the state), so it vectorises; per channel
  // the taps are summed in the same order as the definition.
  pool.parallel_for(conv_dim, [&](int64_t c_begin, int64_t c_end) {
    const float* wconv = w.conv.data();  // [Kc][conv_dim]
    const int64_t keep = Kc - 1;
    for (const SeqSpan& sp : batch.seqs) {
      float* st = sp.state->gdn(layer).conv.data();  // [Kc-1][conv_dim]
      // Input row at span position t (negative: from the state, t = -1 the newest).
      auto input_row = [&](int64_t t) {
        return t >= 0 ? qkv.data() + (sp.begin + t) * conv_dim : st + (keep + t) * conv_dim;
      };
      for (int64_t t = 0; t < sp.count; ++t) {
        float* dst = conv.data() + (sp.begin + t) * conv_dim;
        std::fill(dst + c_begin, dst + c_end, 0.0f);
        for (int64_t j = 0; j < Kc; ++j) {
          const float* src = input_row(t - keep + j);
          const float* wj = wconv + j * conv_dim;
          for (int64_t c = c_begin; c < c_end; ++c) dst[c] += wj[c] * src[c];
        }
      }
      // New state: the last Kc-1 inputs of [state | span]. Row j takes combined position
      // count + j >= j, so rows are read before they are overwritten.
      for (int64_t j = 0; j < keep; ++j) {
        const float* src = input_row(sp.count - keep + j);
        float* row = st + j * conv_dim;
        if (src != row) std::copy(src + c_begin, src + c_end, row + c_begin);
      }
    }
  });

  // Per token: SiLU, q/k L2 norm (q scaled by 1/sqrt(dk)), gates.
  const float q_scale = 1.0f / std::sqrt(static_cast<float>(dk));
  pool.parallel_for(N, [&](int64_t t_begin, int64_t t_end) {
    std::vector<float> tmp(Hv);
    for (int64_t t = t_begin; t < t_end; ++t) {
      float* c = conv.data() + t * conv_dim;
      kernels::silu(c, c, conv_dim);
      for (int64_t h = 0; h < Hk; ++h) {
        l2_normalize(c + h * dk, dk, q_scale);
        l2_normalize(c + key_dim + h * dk, dk, 1.0f);
      }
      kernels::sigmoid(beta.data() + t * Hv, beta.data() + t * Hv, Hv);
      float* gt = g.data() + t * Hv;
      for (int64_t h = 0; h < Hv; ++h) tmp[h] = gt[h] + w.dt_bias[h];
      kernels::softplus(tmp.data(), tmp.data(), Hv);
      for (int64_t h = 0; h < Hv; ++h) gt[h] = w.a[h] * tmp[h];
    }
  });

  // Delta rule per (sequence, value head).
  const int64_t n_items = static_cast<int64_t>(batch.seqs.size()) * Hv;
  pool.parallel_for(n_items, [&](int64_t i_begin, int64_t i_end) {
    for (int64_t item = i_begin; item < i_end; ++item) {
      const SeqSpan& sp = batch.seqs[item / Hv];
      const int64_t h = item % Hv;
      const int64_t kh = h % Hk;  // tiled GGUF order
      DeltaRuleInput in;
      const float* base = conv.data() + sp.begin * conv_dim;
      in.q = base + kh * dk;
      in.k = base + key_dim + kh * dk;
      in.qk_stride = conv_dim;
      in.v = base + 2 * key_dim + h * dv;
      in.v_stride = conv_dim;
      in.g = g.data() + sp.begin * Hv + h;
      in.beta = beta.data() + sp.begin * Hv + h;
      in.gb_stride = Hv;
      in.n_tokens = sp.count;
      in.dk = dk;
      in.dv = dv;
      float* S = sp.state->gdn(layer).recurrent.data() + h * dk * dv;
      float* o = core.data() + sp.begin * value_dim + h * dv;
      const bool chunked = mode == GdnMode::kChunked || (mode == GdnMode::kAuto && sp.count > 1);
      if (chunked) {
        delta_rule_chunked(in, S, o, value_dim);
      } else {
        delta_rule_recurrent(in, S, o, value_dim);
      }
    }
  });

  // Gated RMSNorm per (token, value head): norm(o) * w * silu(z).
  pool.parallel_for(N, [&](int64_t t_begin, int64_t t_end) {
    std::vector<float> gate(dv);
    for (int64_t t = t_begin; t < t_end; ++t) {
      for (int64_t h = 0; h < Hv; ++h) {
        float* o = core.data() + t * value_dim + h * dv;
        kernels::rms_norm(o, w.norm.data(), o, dv, hp.rms_eps);
        kernels::silu(z.data() + t * value_dim + h * dv, gate.data(), dv);
        kernels::mul(o, gate.data(), o, dv);
      }
    }
  });
  kernels::matmul(w.out, core.data(), value_dim, N, out, D, pool);
}

}  // namespace hearth::model
