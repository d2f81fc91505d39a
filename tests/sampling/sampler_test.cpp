// Sampler tests: greedy, seeds, truncation rules, penalties, bias, logprobs, and the empirical
// distribution against the softmax (chi-square with a fixed seed).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <vector>

#include "sampling/sampler.h"

namespace hearth::sampling {
namespace {

std::vector<float> ramp(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = 0.01f * static_cast<float>((i * 37) % n);
  return v;
}

int32_t draw(Sampler& s, std::vector<float> logits) {
  auto r = s.sample(logits.data(), static_cast<int32_t>(logits.size()));
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r->token;
}

TEST(Sampler, GreedyIsArgmax) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  std::vector<float> logits = {0.1f, 2.5f, -1.0f, 2.4f};
  EXPECT_EQ(draw(s, logits), 1);
  auto big = ramp(1000);
  int best = static_cast<int>(std::max_element(big.begin(), big.end()) - big.begin());
  EXPECT_EQ(draw(s, big), best);
}

// Ties go to the first index (as a strict > scan would), at every position relative to the
// 8-lane max; a NaN anywhere is an error, not a silent pick.
TEST(Sampler, GreedyTiesAndNaN) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  for (int n : {1, 7, 8, 9, 33}) {
    for (int first = 0; first < n; ++first) {
      std::vector<float> logits(static_cast<size_t>(n), -1.0f);
      logits[static_cast<size_t>(first)] = 3.0f;
      if (first + 5 < n) logits[static_cast<size_t>(first + 5)] = 3.0f;
      EXPECT_EQ(draw(s, logits), first) << "n " << n;
    }
  }
  std::vector<float> bad = ramp(100);
  bad[57] = std::nanf("");
  EXPECT_FALSE(s.sample(bad.data(), 100).is_ok());
}

TEST(Sampler, SameSeedSameTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.seed = 1234;
  Sampler a(p), b(p);
  auto logits = ramp(500);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 50; ++i) {
    ta.push_back(draw(a, logits));
    tb.push_back(draw(b, logits));
  }
  EXPECT_EQ(ta, tb);
  p.seed = 999;
  Sampler c(p);
  std::vector<int32_t> tc;
  for (int i = 0; i < 50; ++i) tc.push_back(draw(c, logits));
  EXPECT_NE(ta, tc);
}

TEST(Sampler, DistributionMatchesSoftmax) {
  // 6 tokens, temperature 0.7, no truncation: chi-square over 60000 draws, 5 dof.
  std::vector<float> logits = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, 1.5f};
  SamplingParams p;
  p.temperature = 0.7f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.seed = 42;
  Sampler s(p);
  std::vector<double> expected(logits.size());
  double z = 0;
  for (size_t i = 0; i < logits.size(); ++i) z += expected[i] = std::exp(logits[i] / 0.7);
  const int draws = 60000;
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) counts[static_cast<size_t>(draw(s, logits))]++;
  double chi2 = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    double e = expected[i] / z * draws;
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  EXPECT_LT(chi2, 20.5);  // p = 0.001 critical value for 5 degrees of freedom
}

TEST(Sampler, TopKOnlyDrawsFromTopK) {
  SamplingParams p;
  p.temperature = 5.0f;  // flatten, so excluded tokens would be drawn often if not cut
  p.top_k = 3;
  p.top_p = 1.0f;
  p.seed = 7;
  Sampler s(p);
  std::vector<float> logits = {0.0f, 3.0f, 1.0f, 2.9f, 2.8f, -1.0f};
  for (int i = 0; i < 500; ++i) {
    int32_t t = draw(s, logits);
    EXPECT_TRUE(t == 1 || t == 3 || t == 4) << t;
  }
}

TEST(Sampler, TopPKeepsSmallestSetCoveringP) {
  // Probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.7 keeps the first two.
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.7f;
  p.seed = 3;
  Sampler s(p);
  std::map<int32_t, int> seen;
  for (int i = 0; i < 2000; ++i) seen[draw(s, logits)]++;
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[0], seen[1]);
}

TEST(Sampler, TopPOverLargeVocabulary) {
  // 100000 near-equal tokens: top-p must grow its sorted prefix beyond the first 256.
  std::vector<float> logits(100000, 0.0f);
  logits[5] = 1.0f;
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.5f;
  p.seed = 11;
  Sampler s(p);
  std::map<int32_t, int> seen;
  for (int i = 0; i < 200; ++i) seen[draw(s, logits)]++;
  EXPECT_GT(seen.size(), 100u);  // roughly half the vocabulary is eligible
}

TEST(Sampler, MinPCutsTail) {
  std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.05f), std::log(0.05f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.2f;  // keep p >= 0.12
  p.seed = 5;
  Sampler s(p);
  for (int i = 0; i < 1000; ++i) EXPECT_LE(draw(s, logits), 1);
}

TEST(Sampler, LogitBiasForcesAndBans) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 1;
  p.logit_bias = {{2, 100.0f}};
  Sampler s(p);
  std::vector<float> logits = {5.0f, 4.0f, 0.0f, 3.0f};
  EXPECT_EQ(draw(s, logits), 2);
  SamplingParams q;
  q.temperature = 0;
  q.logit_bias = {{0, -100.0f}};
  Sampler g(q);
  EXPECT_EQ(draw(g, logits), 1);
}

TEST(Sampler, PenaltiesAdjustLogits) {
  SamplingParams p;
  p.temperature = 0;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p);
  s.accept(1);
  s.accept(1);
  std::vector<float> logits = {1.0f, 1.9f, 0.0f};
  // token 1: 1.9 - 0.5 - 0.25*2 = 0.9 < 1.0 -> token 0 wins
  EXPECT_EQ(draw(s, logits), 0);

  SamplingParams r;
  r.temperature = 0;
  r.repeat_penalty = 2.0f;
  Sampler rs(r);
  std::vector<int32_t> prompt = {0};
  rs.add_prompt(prompt);
  std::vector<float> l2 = {3.0f, 2.0f};  // 3/2 = 1.5 < 2
  EXPECT_EQ(draw(rs, l2), 1);
}

TEST(Sampler, RepeatWindowForgetsOldTokens) {
  SamplingParams r;
  r.temperature = 0;
  r.repeat_penalty = 10.0f;
  r.repeat_last_n = 2;
  Sampler s(r);
  s.accept(0);
  s.accept(2);
  s.accept(2);  // token 0 has left the window
  std::vector<float> logits = {3.0f, 2.0f, 1.0f};
  EXPECT_EQ(draw(s, logits), 0);
}

TEST(Sampler, TopLogprobsSortedAndNormalised) {
  SamplingParams p;
  p.temperature = 0;
  p.top_logprobs = 3;
  p.logprobs = true;
  Sampler s(p);
  std::vector<float> logits = {0.0f, 1.0f, 2.0f, 3.0f};
  auto r = s.sample(logits.data(), 4);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->top.size(), 3u);
  EXPECT_EQ(r->top[0].token, 3);
  EXPECT_EQ(r->top[1].token, 2);
  EXPECT_EQ(r->top[2].token, 1);
  double z = std::exp(0.0) + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(r->top[0].logprob, 3.0 - std::log(z), 1e-5);
  EXPECT_NEAR(r->logprob, r->top[0].logprob, 1e-6);
}

// A stateless constraint from a predicate (the default mask_logits() goes through allows()).
class PredicateConstraint : public TokenConstraint {
 public:
  explicit PredicateConstraint(std::function<bool(int32_t)> allowed)
      : allowed_(std::move(allowed)) {}
  bool allows(int32_t token) const override { return allowed_(token); }
  void accept(int32_t) override {}

 private:
  std::function<bool(int32_t)> allowed_;
};

TEST(Sampler, FilterRestrictsChoicesAndRejectsEmpty) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 9;
  Sampler s(p);
  PredicateConstraint only_odd([](int32_t t) { return t % 2 == 1; });
  for (int i = 0; i < 100; ++i) {
    std::vector<float> logits = {5.0f, 0.0f, 5.0f, 0.1f};
    auto r = s.sample(logits.data(), 4, &only_odd);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->token % 2, 1);
  }
  PredicateConstraint none([](int32_t) { return false; });
  std::vector<float> logits = {1.0f, 2.0f};
  EXPECT_FALSE(s.sample(logits.data(), 2, &none).is_ok());
}

TEST(Sampler, ValidateRejectsBadParams) {
  SamplingParams p;
  p.temperature = -1;
  EXPECT_FALSE(validate(p, 10).is_ok());
  p = SamplingParams();
  p.top_p = 0;
  EXPECT_FALSE(validate(p, 10).is_ok());
  p = SamplingParams();
  p.logit_bias = {{10, 1.0f}};
  Status s = validate(p, 10);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("outside the vocabulary"), std::string::npos);
  EXPECT_TRUE(validate(SamplingParams(), 10).is_ok());
}

TEST(Sampler, NanLogitsAreAnError) {
  SamplingParams p;
  Sampler s(p);
  std::vector<float> logits = {NAN, NAN};
  EXPECT_FALSE(s.sample(logits.data(), 2).is_ok());
}

}  // namespace
}  // namespace hearth::sampling
