// Sampler: turns one position's logits into the next token for one sequence. Each sequence
// owns its sampler and RNG, so a seeded request gives the same tokens whether or not it is
// batched with others. Order: logit bias -> penalties -> token mask -> (logprobs) ->
// temperature -> top-k -> softmax -> top-p -> min-p -> draw.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace hearth::sampling {

struct SamplingParams {
  float temperature = 0.8f;  // <= 0: greedy (argmax)
  int top_k = 40;            // <= 0: disabled
  float top_p = 0.95f;       // >= 1: disabled
  float min_p = 0.0f;        // <= 0: disabled; keeps tokens with p >= min_p * p_max
  // Repetition penalty (llama.cpp / Ollama semantics): over the last repeat_last_n tokens of prompt
  // and output, positive logits are divided by it and negative ones multiplied. 1 = off.
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  // OpenAI semantics, over the generated tokens only: logit -= presence * [count > 0] + frequency * count.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<uint64_t> seed;  // unset: seeded from std::random_device
  std::vector<std::pair<int32_t, float>> logit_bias;  // (token id, added value); -100 bans in practice
  int top_logprobs = 0;  // how many alternatives to report per token (0..20)
  // Compute the chosen token's log-probability (a pass of exp over the whole vocabulary: ~1 ms
  // for 248K tokens, so it is skipped unless asked for; top_logprobs > 0 implies it).
  bool logprobs = false;
};

Status validate(const SamplingParams& params, int32_t n_vocab);

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

struct SampledToken {
  int32_t token = 0;
  float logprob = 0.0f;             // log-probability under the model's (biased, penalised)
                                    // distribution; 0 unless params.logprobs or top_logprobs
  std::vector<TokenLogprob> top;    // top_logprobs alternatives, most likely first
};

// A stateful constraint over the generated tokens (e.g. a JSON-schema automaton): the sampler masks
// the logits through mask_logits() and the engine reports every chosen token through accept().
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  virtual bool allows(int32_t token) const = 0;
  virtual void accept(int32_t token) = 0;
  // Sets logits[t] = -inf for every token t that may not come next. Constraints with many
  // forbidden tokens override it with a bulk walk (one allows() call per token is too slow for a
  // 248K vocabulary on every step).
  virtual void mask_logits(float* logits, int32_t n_vocab) const {
    for (int32_t t = 0; t < n_vocab; ++t)
      if (!allows(t)) logits[t] = -std::numeric_limits<float>::infinity();
  }
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Remembers prompt tokens (for the repetition penalty window).
  void add_prompt(std::span<const int32_t> tokens);
  // Remembers a generated token (penalties and the window).
  void accept(int32_t token);

  // Chooses the next token. `logits` [n_vocab] is modified in place. With a constraint, only the
  // tokens it allows can be chosen (its mask_logits() runs after bias and penalties); if it allows
  // none, the result is an error.
  Result<SampledToken> sample(float* logits, int32_t n_vocab,
                              const TokenConstraint* constraint = nullptr);

  const SamplingParams& params() const { return params_; }

 private:
  void apply_penalties(float* logits, int32_t n_vocab) const;

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> recent_;                    // [<= repeat_last_n] last prompt+output tokens
  std::unordered_map<int32_t, int32_t> out_counts_;  // generated token -> count
  std::vector<std::pair<float, int32_t>> scratch_;  // [n_candidates] (logit or prob, token)
};

}  // namespace hearth::sampling
