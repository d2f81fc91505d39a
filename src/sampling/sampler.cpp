// Sampler implementation: penalties, truncation (top-k / top-p / min-p) and the draw.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hearth::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Partially sorts `items` by descending first so that the k largest lead, in order.
void sort_top(std::vector<std::pair<float, int32_t>>& items, size_t k) {
  auto greater = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  k = std::min(k, items.size());
  std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(k), items.end(),
                    greater);
}

}  // namespace

Status validate(const SamplingParams& p, int32_t n_vocab) {
  if (!std::isfinite(p.temperature) || p.temperature < 0)
    return invalid_argument_error(str_format("temperature must be >= 0, got %g", p.temperature));
  if (!(p.top_p > 0) || p.top_p > 1 || !std::isfinite(p.top_p))
    return invalid_argument_error(str_format("top_p must be in (0, 1], got %g", p.top_p));
  if (!(p.min_p >= 0) || p.min_p > 1)
    return invalid_argument_error(str_format("min_p must be in [0, 1], got %g", p.min_p));
  if (!(p.repeat_penalty > 0) || !std::isfinite(p.repeat_penalty))
    return invalid_argument_error(
        str_format("repeat_penalty must be > 0, got %g", p.repeat_penalty));
  if (!std::isfinite(p.presence_penalty) || std::fabs(p.presence_penalty) > 2)
    return invalid_argument_error("presence_penalty must be between -2 and 2");
  if (!std::isfinite(p.frequency_penalty) || std::fabs(p.frequency_penalty) > 2)
    return invalid_argument_error("frequency_penalty must be between -2 and 2");
  if (p.top_logprobs < 0 || p.top_logprobs > 20)
    return invalid_argument_error(
        str_format("top_logprobs must be between 0 and 20, got %d", p.top_logprobs));
  for (const auto& [token, bias] : p.logit_bias) {
    if (token < 0 || token >= n_vocab)
      return invalid_argument_error(
          str_format("logit_bias token %d is outside the vocabulary (0..%d)", token, n_vocab - 1));
    if (!std::isfinite(bias)) return invalid_argument_error("logit_bias values must be finite");
  }
  return Status::ok();
}

Sampler::Sampler(const SamplingParams& params) : params_(params) {
  if (params_.seed) {
    rng_.seed(*params_.seed);
  } else {
    std::random_device rd;
    rng_.seed((static_cast<uint64_t>(rd()) << 32) ^ rd());
  }
}

void Sampler::add_prompt(std::span<const int32_t> tokens) {
  size_t keep = static_cast<size_t>(std::max(0, params_.repeat_last_n));
  size_t start = tokens.size() > keep ? tokens.size() - keep : 0;
  for (size_t i = start; i < tokens.size(); ++i) recent_.push_back(tokens[i]);
  if (recent_.size() > keep)
    recent_.erase(recent_.begin(), recent_.end() - static_cast<std::ptrdiff_t>(keep));
}

void Sampler::accept(int32_t token) {
  out_counts_[token]++;
  size_t keep = static_cast<size_t>(std::max(0, params_.repeat_last_n));
  if (keep == 0) return;
  recent_.push_back(token);
  if (recent_.size() > keep) recent_.erase(recent_.begin());
}

void Sampler::apply_penalties(float* logits, int32_t n_vocab) const {
  if (params_.repeat_penalty != 1.0f && !recent_.empty()) {
    std::vector<int32_t> seen(recent_);
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t t : seen) {
      if (t < 0 || t >= n_vocab) continue;
      float& l = logits[t];
      l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    }
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    for (const auto& [t, count] : out_counts_) {
      if (t < 0 || t >= n_vocab) continue;
      logits[t] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(count);
    }
  }
}

namespace {

// Maximum of x[0, n) ignoring NaNs, and whether there was one. Eight independent lanes: a single
// running maximum is one dependent compare per element (and was kept in memory by the compiler).
float max_and_nan(const float* x, int32_t n, bool* any_nan) {
  constexpr int kLanes = 8;
  float m[kLanes];
  bool nan[kLanes] = {};
  for (float& v : m) v = kNegInf;
  int32_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float v = x[i + j];
      m[j] = v > m[j] ? v : m[j];
      nan[j] |= v != v;
    }
  }
  for (; i < n; ++i) {
    m[0] = x[i] > m[0] ? x[i] : m[0];
    nan[0] |= x[i] != x[i];
  }
  float best = m[0];
  bool seen = nan[0];
  for (int j = 1; j < kLanes; ++j) {
    best = m[j] > best ? m[j] : best;
    seen |= nan[j];
  }
  *any_nan = seen;
  return best;
}

}  // namespace

Result<SampledToken> Sampler::sample(float* logits, int32_t n_vocab,
                                     const TokenConstraint* constraint) {
  if (n_vocab <= 0) return invalid_argument_error("empty vocabulary");
  for (const auto& [token, bias] : params_.logit_bias)
    if (token >= 0 && token < n_vocab) logits[token] += bias;
  apply_penalties(logits, n_vocab);
  if (constraint) {
    constraint->mask_logits(logits, n_vocab);
    if (std::none_of(logits, logits + n_vocab, [](float l) { return l != kNegInf; }))
      return internal_error("the output constraint allows no token at this position");
  }

  // Log-softmax normaliser of the (biased, penalised, masked) distribution, for logprobs.
  bool any_nan = false;
  const float max_logit = max_and_nan(logits, n_vocab, &any_nan);
  if (any_nan) return internal_error("logits contain NaN");
  if (!std::isfinite(max_logit)) {
    if (max_logit == kNegInf) return internal_error("every token has probability zero");
    return internal_error("logits contain NaN or +inf");
  }
  const bool want_logprobs = params_.logprobs || params_.top_logprobs > 0;
  float log_z = 0;
  if (want_logprobs) {
    double sum = 0;
    for (int32_t t = 0; t < n_vocab; ++t)
      sum += std::exp(static_cast<double>(logits[t] - max_logit));
    log_z = max_logit + static_cast<float>(std::log(sum));
  }

  SampledToken out;
  auto fill_top = [&] {
    if (params_.top_logprobs <= 0) return;
    scratch_.clear();
    for (int32_t t = 0; t < n_vocab; ++t) scratch_.emplace_back(logits[t], t);
    sort_top(scratch_, static_cast<size_t>(params_.top_logprobs));
    for (int i = 0; i < params_.top_logprobs && i < n_vocab; ++i)
      out.top.push_back({scratch_[static_cast<size_t>(i)].second,
                         scratch_[static_cast<size_t>(i)].first - log_z});
  };
  fill_top();

  if (params_.temperature <= 0.0f || params_.top_k == 1) {
    // The first token holding the maximum (what a strict > scan picks), found without a second
    // full compare-and-index pass.
    const int32_t best =
        static_cast<int32_t>(std::find(logits, logits + n_vocab, max_logit) - logits);
    out.token = best;
    out.logprob = want_logprobs ? logits[best] - log_z : 0.0f;
    return out;
  }

  // Candidates: all finite tokens, scaled by temperature.
  const float inv_temp = 1.0f / params_.temperature;
  scratch_.clear();
  for (int32_t t = 0; t < n_vocab; ++t)
    if (logits[t] != kNegInf) scratch_.emplace_back(logits[t] * inv_temp, t);
  size_t n = scratch_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    sort_top(scratch_, static_cast<size_t>(params_.top_k));
    n = static_cast<size_t>(params_.top_k);
    scratch_.resize(n);
  } else {
    // Full vocabulary: min-p can cut the tail cheaply before any sort.
    if (params_.min_p > 0) {
      float max_scaled = max_logit * inv_temp;
      float cut = max_scaled + std::log(params_.min_p);
      scratch_.erase(std::remove_if(scratch_.begin(), scratch_.end(),
                                    [&](const auto& c) { return c.first < cut; }),
                     scratch_.end());
      n = scratch_.size();
    }
    // Sort only as much as top-p needs: grow the sorted prefix until it covers top_p.
    sort_top(scratch_, std::min<size_t>(n, 256));
  }
  // Softmax over candidates (sorted prefix first).
  float m = kNegInf;
  for (size_t i = 0; i < n; ++i) m = std::max(m, scratch_[i].first);
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    scratch_[i].first = std::exp(scratch_[i].first - m);
    total += scratch_[i].first;
  }
  size_t keep = n;
  if (params_.top_p < 1.0f) {
    size_t sorted = std::min<size_t>(n, 256);
    for (;;) {
      double cum = 0;
      size_t i = 0;
      for (; i < sorted; ++i) {
        cum += scratch_[i].first;
        if (cum >= params_.top_p * total) break;
      }
      if (i < sorted) {
        keep = i + 1;
        break;
      }
      if (sorted == n) break;
      sorted = std::min(n, sorted * 8);
      sort_top(scratch_, sorted);
    }
  }
  if (params_.min_p > 0) {
    // scratch_[0] is the most likely candidate: every path above sorted a prefix.
    float p_max = scratch_[0].first;
    float cut = params_.min_p * p_max;
    if (keep == n) {
      auto mid = std::partition(scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(n),
                                [&](const auto& c) { return c.first >= cut; });
      keep = static_cast<size_t>(mid - scratch_.begin());
    } else {
      size_t k = 0;
      while (k < keep && scratch_[k].first >= cut) ++k;
      keep = std::max<size_t>(k, 1);
    }
  }
  double kept_total = 0;
  for (size_t i = 0; i < keep; ++i) kept_total += scratch_[i].first;
  std::uniform_real_distribution<double> uniform(0.0, kept_total);
  double r = uniform(rng_);
  size_t chosen = keep - 1;
  double acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += scratch_[i].first;
    if (r < acc) {
      chosen = i;
      break;
    }
  }
  out.token = scratch_[chosen].second;
  out.logprob = want_logprobs ? logits[out.token] - log_z : 0.0f;
  return out;
}

}  // namespace hearth::sampling
