// ChoiceOutput: one generated choice as it streams in — generated text is split by the
// Qwen3.5 OutputParser into reasoning, content and tool calls — and its OpenAI / Ollama JSON
// shapes (final message and per-step deltas). Kept apart from the HTTP code so the response
// building can be unit-tested on scripted text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/json_value.h"
#include "chat/output_parser.h"

namespace hearth::server {

struct ToolCallOut {
  std::string id;  // "call_<24 hex>"
  std::string name;
  chat::Value arguments;       // object (Ollama shape)
  std::string arguments_json;  // the same as a JSON string (OpenAI shape)
};

// What one feed() or finish() added.
struct ChoiceDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallOut> tool_calls;
  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
};

class ChoiceOutput {
 public:
  explicit ChoiceOutput(chat::OutputParserOptions options);
  ChoiceDelta feed(std::string_view text);
  ChoiceDelta finish();
  bool in_reasoning() const { return parser_.in_reasoning(); }

  const std::string& reasoning() const { return reasoning_; }
  const std::string& content() const { return content_; }
  const std::vector<ToolCallOut>& tool_calls() const { return tool_calls_; }

 private:
  ChoiceDelta absorb(const std::vector<chat::ParseEvent>& events);
  chat::OutputParser parser_;
  std::string reasoning_;
  std::string content_;
  std::vector<ToolCallOut> tool_calls_;
};

// "call_" + 24 random hex digits.
std::string new_tool_call_id();

// OpenAI: finish_reason from the engine's reason, promoted to "tool_calls" when calls were made.
std::string openai_finish_reason(const std::string& engine_reason, bool has_tool_calls);

// OpenAI chat message {role, content, reasoning_content?, reasoning?, tool_calls?}.
api::Json openai_message(const ChoiceOutput& output);
// OpenAI chunk delta; `first_tool_index` numbers the delta's calls within the choice.
api::Json openai_delta(const ChoiceDelta& delta, size_t first_tool_index);
// Ollama message {role, content, thinking?, tool_calls?} (arguments as objects).
api::Json ollama_message(const std::string& reasoning, const std::string& content,
                         const std::vector<ToolCallOut>& tool_calls);

// JSON text that never throws on invalid UTF-8 (replaced by U+FFFD).
std::string dump_json(const api::Json& json);

}  // namespace hearth::server
