// Internal to api/ and server/: chat::Value <-> nlohmann::ordered_json (ordered, because the chat
// template prints object keys in the order given), and the JSON-level form of
// parse_chat_request for callers that already parsed the body. Users must link nlohmann_json.
#pragma once

#include <nlohmann/json.hpp>

#include "api/chat_request.h"
#include "base/status.h"
#include "chat/value.h"

namespace hearth::api {

using Json = nlohmann::ordered_json;

// Unsigned integers above INT64_MAX become doubles; other numbers keep their kind.
chat::Value value_from_json(const Json& json);
// Non-finite doubles (which JSON cannot spell) become null.
Json value_to_json(const chat::Value& value);

Result<chat::ChatRequest> chat_request_from_json(const Json& body,
                                                 const ChatRequestParseOptions& options = {});

}  // namespace hearth::api
