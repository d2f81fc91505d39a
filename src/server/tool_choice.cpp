// tool_choice parsing and the token constraints that implement it.
#include "server/tool_choice.h"

#include <limits>

#include <algorithm>

namespace hearth::server {

namespace {

bool contains_sorted(const std::vector<int32_t>& sorted, int32_t token) {
  return std::binary_search(sorted.begin(), sorted.end(), token);
}

std::vector<int32_t> sorted_unique(std::vector<int32_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace

std::vector<std::string> tool_function_names(const api::Json* tools) {
  std::vector<std::string> names;
  if (!tools || !tools->is_array()) return names;
  for (const auto& t : *tools) {
    if (!t.is_object()) continue;
    auto f = t.find("function");
    if (f == t.end() || !f->is_object()) continue;
    auto n = f->find("name");
    if (n != f->end() && n->is_string()) names.push_back(n->get<std::string>());
  }
  return names;
}

Result<ToolChoice> parse_tool_choice(const api::Json* tool_choice,
                                     const std::vector<std::string>& tool_names) {
  ToolChoice choice;
  if (!tool_choice || tool_choice->is_null()) return choice;
  if (tool_choice->is_string()) {
    const std::string mode = tool_choice->get<std::string>();
    if (mode == "auto") return choice;
    if (mode == "none") {
      choice.mode = ToolChoice::Mode::kNone;
      return choice;
    }
    if (mode == "required") {
      if (tool_names.empty())
        return invalid_argument_error("tool_choice \"required\" needs at least one tool in tools");
      choice.mode = ToolChoice::Mode::kRequired;
      return choice;
    }
    return invalid_argument_error(
        "tool_choice must be \"auto\", \"none\", \"required\" or "
        "{\"type\":\"function\",\"function\":{\"name\":...}}, got \"" +
        mode + "\"");
  }
  if (!tool_choice->is_object())
    return invalid_argument_error("tool_choice must be a string or an object");
  auto type = tool_choice->find("type");
  if (type == tool_choice->end() || !type->is_string() || type->get<std::string>() != "function")
    return invalid_argument_error("tool_choice object must have type \"function\"");
  auto fn = tool_choice->find("function");
  if (fn == tool_choice->end() || !fn->is_object())
    return invalid_argument_error("tool_choice.function must be an object with a name");
  auto name = fn->find("name");
  if (name == fn->end() || !name->is_string() || name->get<std::string>().empty())
    return invalid_argument_error("tool_choice.function.name must be a non-empty string");
  choice.function = name->get<std::string>();
  if (std::find(tool_names.begin(), tool_names.end(), choice.function) == tool_names.end())
    return invalid_argument_error("tool_choice names function '" + choice.function +
                                  "', which is not among the request's tools");
  choice.mode = ToolChoice::Mode::kFunction;
  return choice;
}

BanTokensConstraint::BanTokensConstraint(std::vector<int32_t> banned)
    : banned_(sorted_unique(std::move(banned))) {}

bool BanTokensConstraint::allows(int32_t token) const {
  return !contains_sorted(banned_, token);
}

void BanTokensConstraint::mask_logits(float* logits, int32_t n_vocab) const {
  for (int32_t t : banned_)
    if (t >= 0 && t < n_vocab) logits[t] = -std::numeric_limits<float>::infinity();
}

ForcedPrefixConstraint::ForcedPrefixConstraint(std::vector<int32_t> prefix,
                                               std::vector<int32_t> wait_for,
                                               std::vector<int32_t> banned_while_waiting)
    : prefix_(std::move(prefix)),
      banned_while_waiting_(sorted_unique(std::move(banned_while_waiting))),
      wait_for_(std::move(wait_for)),
      waiting_(!wait_for_.empty()) {}

bool ForcedPrefixConstraint::allows(int32_t token) const {
  if (waiting_) return !contains_sorted(banned_while_waiting_, token);
  if (pos_ < prefix_.size()) return token == prefix_[pos_];
  return true;
}

void ForcedPrefixConstraint::mask_logits(float* logits, int32_t n_vocab) const {
  const float ninf = -std::numeric_limits<float>::infinity();
  if (waiting_) {
    for (int32_t t : banned_while_waiting_)
      if (t >= 0 && t < n_vocab) logits[t] = ninf;
    return;
  }
  if (pos_ >= prefix_.size()) return;
  const int32_t forced = prefix_[pos_];
  for (int32_t t = 0; t < n_vocab; ++t)
    if (t != forced) logits[t] = ninf;
}

void ForcedPrefixConstraint::accept(int32_t token) {
  if (waiting_) {
    recent_.push_back(token);
    if (recent_.size() > wait_for_.size()) recent_.erase(recent_.begin());
    if (recent_ == wait_for_) waiting_ = false;
    return;
  }
  if (pos_ < prefix_.size()) ++pos_;
}

AllOfConstraint::AllOfConstraint(std::vector<std::unique_ptr<sampling::TokenConstraint>> parts)
    : parts_(std::move(parts)) {}

bool AllOfConstraint::allows(int32_t token) const {
  for (const auto& p : parts_)
    if (!p->allows(token)) return false;
  return true;
}

void AllOfConstraint::mask_logits(float* logits, int32_t n_vocab) const {
  for (const auto& p : parts_) p->mask_logits(logits, n_vocab);
}

void AllOfConstraint::accept(int32_t token) {
  for (auto& p : parts_) p->accept(token);
}

Result<ConstraintFactory> tool_choice_constraint(const ToolChoice& choice,
                                                 const tokenizer::Tokenizer& tokenizer,
                                                 bool thinking) {
  const tokenizer::SpecialIds& ids = tokenizer.special_ids();
  switch (choice.mode) {
    case ToolChoice::Mode::kAuto:
      return ConstraintFactory{};
    case ToolChoice::Mode::kNone: {
      // A vocabulary without a <tool_call> token (synthetic test models) spells it in several
      // ordinary tokens, which cannot be banned one by one: "none" then behaves as "auto".
      if (ids.tool_call < 0) return ConstraintFactory{};
      int32_t banned = ids.tool_call;
      return ConstraintFactory{
          [banned] { return std::make_unique<BanTokensConstraint>(std::vector<int32_t>{banned}); }};
    }
    case ToolChoice::Mode::kRequired:
    case ToolChoice::Mode::kFunction:
      break;
  }
  // After </think> the model writes a blank line before the call (as the chat template renders
  // past assistant turns); with thinking off the prompt already ends with it.
  std::string text = thinking ? "\n\n<tool_call>\n<function=" : "<tool_call>\n<function=";
  if (choice.mode == ToolChoice::Mode::kFunction) text += choice.function + ">\n";
  HEARTH_ASSIGN_OR_RETURN(std::vector<int32_t> prefix, tokenizer.encode(text, true));
  if (prefix.empty()) return internal_error("cannot tokenize the forced tool call");
  std::vector<int32_t> wait_for;
  if (thinking) {
    if (ids.think_end >= 0) {
      wait_for = {ids.think_end};
    } else {
      HEARTH_ASSIGN_OR_RETURN(wait_for, tokenizer.encode("</think>", true));
    }
  }
  auto shared_prefix = std::make_shared<const std::vector<int32_t>>(std::move(prefix));
  std::vector<int32_t> eog = tokenizer.eog_ids();
  return ConstraintFactory{[shared_prefix, wait_for, eog] {
    return std::make_unique<ForcedPrefixConstraint>(*shared_prefix, wait_for, eog);
  }};
}

ConstraintFactory combine_constraints(ConstraintFactory a, ConstraintFactory b) {
  if (!a) return b;
  if (!b) return a;
  return [a = std::move(a), b = std::move(b)] {
    std::vector<std::unique_ptr<sampling::TokenConstraint>> parts;
    parts.push_back(a());
    parts.push_back(b());
    return std::make_unique<AllOfConstraint>(std::move(parts));
  };
}

}  // namespace hearth::server
