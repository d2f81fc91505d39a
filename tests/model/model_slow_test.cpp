// Slow model tests: float64 reference vs real forward at every chunk-boundary prompt length,
// for dense and MoE, prefill and decode.
#include <gtest/gtest.h>

#include "model_test_util.h"

namespace hearth::model {
namespace {

using testing::make_tiny;
using testing::max_rel_error;
using testing::random_tokens;
using testing::reference_logits;
using testing::run_decode;
using testing::run_prefill;

TEST(ModelReferenceSlow, PromptLengthsAgainstFloat64) {
  ThreadPool pool(2);
  for (Arch arch : {Arch::kQwen35, Arch::kQwen35Moe}) {
    auto tm = make_tiny(arch, FileType::kF32, 31);
    ASSERT_TRUE(tm.model);
    for (int64_t n : {1, 63, 64, 65, 200}) {
      auto tokens = random_tokens(n, tm.model->n_vocab(), 100 + n);
      auto ref = reference_logits(tm.model->file(), tokens);
      auto pre = run_prefill(*tm.model, tokens, pool);
      auto dec = run_decode(*tm.model, tokens, pool);
      EXPECT_LT(max_rel_error(pre, ref), 5e-4) << arch_name(arch) << " prefill n=" << n;
      EXPECT_LT(max_rel_error(dec, ref), 5e-4) << arch_name(arch) << " decode n=" << n;
    }
  }
}

}  // namespace
}  // namespace hearth::model
