// ChoiceOutput and the OpenAI / Ollama message and delta shapes.
#include "server/chat_output.h"

#include <random>

namespace hearth::server {

ChoiceOutput::ChoiceOutput(chat::OutputParserOptions options) : parser_(std::move(options)) {}

ChoiceDelta ChoiceOutput::feed(std::string_view text) {
  return absorb(parser_.feed(text));
}

ChoiceDelta ChoiceOutput::finish() {
  return absorb(parser_.finish());
}

ChoiceDelta ChoiceOutput::absorb(const std::vector<chat::ParseEvent>& events) {
  ChoiceDelta delta;
  for (const auto& ev : events) {
    switch (ev.kind) {
      case chat::ParseEvent::Kind::kReasoningDelta:
        delta.reasoning += ev.text;
        break;
      case chat::ParseEvent::Kind::kContentDelta:
        delta.content += ev.text;
        break;
      case chat::ParseEvent::Kind::kToolCall: {
        ToolCallOut call;
        call.id = new_tool_call_id();
        call.name = ev.tool_call.name;
        call.arguments = ev.tool_call.arguments;
        call.arguments_json = dump_json(api::value_to_json(ev.tool_call.arguments));
        delta.tool_calls.push_back(std::move(call));
        break;
      }
      case chat::ParseEvent::Kind::kToolCallError:
        // A call that cannot be parsed (or was cut off) is returned as text, not dropped, so the
        // client sees what the model produced.
        delta.content += ev.text;
        break;
    }
  }
  reasoning_ += delta.reasoning;
  content_ += delta.content;
  for (const auto& c : delta.tool_calls) tool_calls_.push_back(c);
  return delta;
}

std::string new_tool_call_id() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* hex = "0123456789abcdef";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += hex[rng() % 16];
  return id;
}

std::string openai_finish_reason(const std::string& engine_reason, bool has_tool_calls) {
  if (has_tool_calls && engine_reason == "stop") return "tool_calls";
  if (engine_reason == "length") return "length";
  return "stop";
}

api::Json openai_message(const ChoiceOutput& output) {
  api::Json msg = api::Json::object();
  msg["role"] = "assistant";
  if (output.content().empty() && !output.tool_calls().empty())
    msg["content"] = nullptr;
  else
    msg["content"] = output.content();
  if (!output.reasoning().empty()) {
    // reasoning_content (llama.cpp, vLLM, DeepSeek) and reasoning (Ollama): both are read.
    msg["reasoning_content"] = output.reasoning();
    msg["reasoning"] = output.reasoning();
  }
  msg["refusal"] = nullptr;
  if (!output.tool_calls().empty()) {
    api::Json calls = api::Json::array();
    for (const auto& c : output.tool_calls())
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments_json}}}});
    msg["tool_calls"] = std::move(calls);
  }
  return msg;
}

api::Json openai_delta(const ChoiceDelta& delta, size_t first_tool_index) {
  api::Json d = api::Json::object();
  if (!delta.reasoning.empty()) {
    d["reasoning_content"] = delta.reasoning;
    d["reasoning"] = delta.reasoning;
  }
  if (!delta.content.empty()) d["content"] = delta.content;
  if (!delta.tool_calls.empty()) {
    api::Json calls = api::Json::array();
    size_t index = first_tool_index;
    for (const auto& c : delta.tool_calls)
      calls.push_back({{"index", index++},
                       {"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments_json}}}});
    d["tool_calls"] = std::move(calls);
  }
  return d;
}

api::Json ollama_message(const std::string& reasoning, const std::string& content,
                         const std::vector<ToolCallOut>& tool_calls) {
  api::Json msg = api::Json::object();
  msg["role"] = "assistant";
  msg["content"] = content;
  if (!reasoning.empty()) msg["thinking"] = reasoning;
  if (!tool_calls.empty()) {
    api::Json calls = api::Json::array();
    for (const auto& c : tool_calls)
      calls.push_back(
          {{"function", {{"name", c.name}, {"arguments", api::value_to_json(c.arguments)}}}});
    msg["tool_calls"] = std::move(calls);
  }
  return msg;
}

std::string dump_json(const api::Json& json) {
  return json.dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace);
}

}  // namespace hearth::server
