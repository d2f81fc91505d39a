// OpenAI tool_choice for Qwen3.5: "auto" (free), "none" (the <tool_call> token is banned),
// "required" (the answer starts with "<tool_call>\n<function=", then the model picks the function
// and its arguments) and {"type":"function","function":{"name":X}} (the answer starts with
// "<tool_call>\n<function=X>\n"). Forcing is done with token constraints on the engine's
// structured-output path; with thinking on it starts once the model has closed its reasoning
// with </think>, so the model still reasons first.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/json_value.h"
#include "base/status.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

struct ToolChoice {
  enum class Mode { kAuto, kNone, kRequired, kFunction };
  Mode mode = Mode::kAuto;
  std::string function;  // kFunction: the forced function's name
  bool forces_call() const { return mode == Mode::kRequired || mode == Mode::kFunction; }
};

// Reads the request's tool_choice (null/absent: auto) against the names of its `tools`.
// kInvalidArgument for unknown shapes, unknown function names, or a forced call without tools.
Result<ToolChoice> parse_tool_choice(const api::Json* tool_choice,
                                     const std::vector<std::string>& tool_names);

// Function names of an OpenAI `tools` array (entries without a name are skipped).
std::vector<std::string> tool_function_names(const api::Json* tools);

// Only tokens outside `banned` [n] may be chosen.
class BanTokensConstraint : public sampling::TokenConstraint {
 public:
  explicit BanTokensConstraint(std::vector<int32_t> banned);
  bool allows(int32_t token) const override;
  void accept(int32_t) override {}
  void mask_logits(float* logits, int32_t n_vocab) const override;

 private:
  std::vector<int32_t> banned_;  // [n] sorted
};

// Forces `prefix` token by token, then allows everything. With a non-empty `wait_for` the forcing
// starts only once the generated tokens end with that sequence (</think>: one token in Qwen
// vocabularies); until then the tokens in `banned_while_waiting` (end of generation) are not
// allowed, so the answer cannot end before the forced part.
class ForcedPrefixConstraint : public sampling::TokenConstraint {
 public:
  ForcedPrefixConstraint(std::vector<int32_t> prefix, std::vector<int32_t> wait_for,
                         std::vector<int32_t> banned_while_waiting);
  bool allows(int32_t token) const override;
  void accept(int32_t token) override;
  void mask_logits(float* logits, int32_t n_vocab) const override;
  bool done() const { return !waiting_ && pos_ >= prefix_.size(); }

 private:
  std::vector<int32_t> prefix_;                // [n_forced] token ids
  std::vector<int32_t> banned_while_waiting_;  // [n] sorted
  std::vector<int32_t> wait_for_;              // [n_wait] token ids
  std::vector<int32_t> recent_;                // [<= n_wait] last generated tokens while waiting
  bool waiting_;
  size_t pos_ = 0;  // next prefix index
};

// A token is allowed when every part allows it; accept() goes to every part.
class AllOfConstraint : public sampling::TokenConstraint {
 public:
  explicit AllOfConstraint(std::vector<std::unique_ptr<sampling::TokenConstraint>> parts);
  bool allows(int32_t token) const override;
  void accept(int32_t token) override;
  // Each part masks in turn (a token survives only if every part allows it), so a JSON-schema
  // part keeps its fast trie walk instead of one allows() call per vocabulary entry.
  void mask_logits(float* logits, int32_t n_vocab) const override;

 private:
  std::vector<std::unique_ptr<sampling::TokenConstraint>> parts_;
};

using ConstraintFactory = std::function<std::unique_ptr<sampling::TokenConstraint>()>;

// The factory for a choice (empty for auto). `thinking`: generation starts inside reasoning.
Result<ConstraintFactory> tool_choice_constraint(const ToolChoice& choice,
                                                 const tokenizer::Tokenizer& tokenizer,
                                                 bool thinking);

// Both factories in one (either may be empty).
ConstraintFactory combine_constraints(ConstraintFactory a, ConstraintFactory b);

}  // namespace hearth::server
