// OpenAI-style chat request JSON -> chat::ChatRequest. Errors name the offending field
// ("messages[2].content must be a string or an array of text parts").
#pragma once

#include <string_view>

#include "base/status.h"
#include "chat/chat_types.h"

namespace hearth::api {

struct ChatRequestParseOptions {
  // OpenAI sends assistant tool-call `arguments` as a JSON *string*; decode it into an object (the
  // Qwen3.5 template needs a mapping). false keeps the string as given, which reproduces the
  // official template's behaviour exactly (it then fails to render).
  bool decode_string_arguments = true;
};

// Reads `messages`, `tools`, `add_generation_prompt` (default true),
// `chat_template_kwargs.{enable_thinking, add_generation_prompt, add_vision_id}` and
// `reasoning_effort: "none"` (= thinking off); other fields (model, sampling, ...) are ignored
// here. Role "developer" is read as "system".
Result<chat::ChatRequest> parse_chat_request(std::string_view json_text,
                                             const ChatRequestParseOptions& options = {});

}  // namespace hearth::api
