// Native chat request types: what a chat template renders. Built by api/ from an OpenAI-style
// request body; no JSON library types here (tool schemas and arguments are chat::Value).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "chat/value.h"

namespace hearth::chat {

// One element of a content array.
struct ContentPart {
  enum class Kind { kText, kImage, kVideo };
  Kind kind = Kind::kText;
  std::string text;  // kText only
};

// Message content: absent/null, a plain string, or an array of parts.
struct MessageContent {
  enum class Kind { kNone, kText, kParts };
  Kind kind = Kind::kNone;
  std::string text;                // kText
  std::vector<ContentPart> parts;  // kParts

  static MessageContent none() { return {}; }
  static MessageContent from_text(std::string s) {
    MessageContent c;
    c.kind = Kind::kText;
    c.text = std::move(s);
    return c;
  }
  static MessageContent from_parts(std::vector<ContentPart> p) {
    MessageContent c;
    c.kind = Kind::kParts;
    c.parts = std::move(p);
    return c;
  }
};

// An assistant's function call in the history.
struct ToolCall {
  std::string id;    // OpenAI call id; not rendered by the Qwen3.5 template
  std::string name;  // function name
  // Must be an object to render (one <parameter=...> per member). api/ decodes OpenAI's JSON
  // string form into an object; a string left here reproduces the template's error.
  Value arguments = Value::object();
};

struct Message {
  std::string role;  // "system", "user", "assistant", "tool" (anything else is a template error)
  MessageContent content;
  std::optional<std::string> reasoning_content;  // assistant reasoning, when given separately
  std::vector<ToolCall> tool_calls;              // assistant only
  std::string tool_call_id;                      // tool results: the call answered (not rendered)
  std::string name;                              // optional participant / tool name (not rendered)
};

struct ChatRequest {
  std::vector<Message> messages;
  // null when absent, else the OpenAI `tools` array ([{type, function:{name, description,
  // parameters}}]), rendered verbatim with tojson.
  Value tools;
  bool enable_thinking = true;        // chat_template_kwargs.enable_thinking
  bool add_generation_prompt = true;  // append the assistant header (and <think> opener)
  bool add_vision_id = false;         // chat_template_kwargs.add_vision_id: "Picture N: " labels
};

}  // namespace hearth::chat
