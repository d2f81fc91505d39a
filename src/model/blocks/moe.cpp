// MoE FFN block (qwen35-architecture.md §6.2).
#include "model/blocks/moe.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/kernels.h"
#include "model/blocks/mlp.h"

namespace hearth::model {

void moe_route(const float* logits, int64_t n_expert, int64_t k, int32_t* idx, float* weights) {
  std::vector<float> p(logits, logits + n_expert);  // [E]
  kernels::softmax(p.data(), n_expert);
  std::vector<int32_t> order(n_expert);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  float sum = 0.0f;
  for (int64_t j = 0; j < k; ++j) sum += p[order[j]];
  for (int64_t j = 0; j < k; ++j) {
    idx[j] = order[j];
    weights[j] = p[order[j]] / sum;
  }
}

void moe_forward(const HParams& hp, const MoeWeights& w, const float* x, int64_t n, float* out,
                 ThreadPool& pool) {
  const int64_t D = hp.n_embd, E = hp.n_expert, K = hp.n_expert_used, Fe = hp.n_ff_expert;
  std::vector<float> logits(n * E);  // [n][E]
  kernels::matmul(w.router, x, D, n, logits.data(), E, pool);
  std::vector<int32_t> sel(n * K);  // [n][K] selected experts
  std::vector<float> sel_w(n * K);  // [n][K] their renormalised weights
  for (int64_t t = 0; t < n; ++t) {
    moe_route(logits.data() + t * E, E, K, sel.data() + t * K, sel_w.data() + t * K);
  }

  // Shared expert over all tokens, scaled by its per-token sigmoid gate.
  swiglu_mlp_forward(w.shared, x, D, n, out, D, pool);
  std::vector<float> sgate(n);  // [n]
  kernels::matmul(w.shared_gate, x, D, n, sgate.data(), 1, pool);
  kernels::sigmoid(sgate.data(), sgate.data(), n);
  for (int64_t t = 0; t < n; ++t) kernels::scale(out + t * D, sgate[t], D);

  // Routed experts: group the tokens by expert, run each used expert once over its tokens.
  std::vector<std::vector<std::pair<int64_t, float>>> by_expert(E);  // [E] -> (token, weight)
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t j = 0; j < K; ++j) by_expert[sel[t * K + j]].push_back({t, sel_w[t * K + j]});
  }
  std::vector<float> xs, gate, up, down;
  for (int64_t e = 0; e < E; ++e) {
    const auto& toks = by_expert[e];
    if (toks.empty()) continue;
    const int64_t m = static_cast<int64_t>(toks.size());
    xs.resize(m * D);     // [m][D]
    gate.resize(m * Fe);  // [m][Fe]
    up.resize(m * Fe);    // [m][Fe]
    down.resize(m * D);   // [m][D]
    for (int64_t i = 0; i < m; ++i) {
      std::copy(x + toks[i].first * D, x + (toks[i].first + 1) * D, xs.data() + i * D);
    }
    kernels::matmul(w.gate.expert(e), xs.data(), D, m, gate.data(), Fe, pool);
    kernels::matmul(w.up.expert(e), xs.data(), D, m, up.data(), Fe, pool);
    for (int64_t i = 0; i < m; ++i) {
      kernels::swiglu(gate.data() + i * Fe, up.data() + i * Fe, gate.data() + i * Fe, Fe);
    }
    kernels::matmul(w.down.expert(e), gate.data(), Fe, m, down.data(), D, pool);
    for (int64_t i = 0; i < m; ++i) {
      kernels::axpy(toks[i].second, down.data() + i * D, out + toks[i].first * D, D);
    }
  }
}

}  // namespace hearth::model
