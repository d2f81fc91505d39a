// OpenAI chat request body -> chat::ChatRequest, with errors that name the offending field.
#include "api/chat_request.h"

#include <string>
#include <utility>

#include "api/json_value.h"

namespace hearth::api {

namespace {

Status field_error(const std::string& path, const std::string& what) {
  return invalid_argument_error(path + " " + what);
}

// Parses JSON text; nlohmann reports errors by exception, which stops here.
Result<Json> parse_json_text(std::string_view text, const std::string& what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    return invalid_argument_error(what + " is not valid JSON: " + e.what());
  }
}

const Json* member(const Json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Status read_optional_bool(const Json& object, const char* key, const std::string& path, bool& out,
                          bool* was_set = nullptr) {
  const Json* v = member(object, key);
  if (v == nullptr || v->is_null()) return Status::ok();
  if (!v->is_boolean()) return field_error(path, "must be a boolean");
  out = v->get<bool>();
  if (was_set != nullptr) *was_set = true;
  return Status::ok();
}

Status read_optional_string(const Json& object, const char* key, const std::string& path,
                            std::string& out) {
  const Json* v = member(object, key);
  if (v == nullptr || v->is_null()) return Status::ok();
  if (!v->is_string()) return field_error(path, "must be a string");
  out = v->get<std::string>();
  return Status::ok();
}

Result<chat::MessageContent> read_content(const Json* content, const std::string& path) {
  if (content == nullptr || content->is_null()) return chat::MessageContent::none();
  if (content->is_string()) return chat::MessageContent::from_text(content->get<std::string>());
  if (!content->is_array()) {
    return field_error(path, "must be a string or an array of text parts");
  }
  std::vector<chat::ContentPart> parts;
  for (size_t j = 0; j < content->size(); ++j) {
    const Json& item = (*content)[j];
    std::string item_path = path + "[" + std::to_string(j) + "]";
    if (!item.is_object()) return field_error(item_path, "must be an object (a content part)");
    std::string type;
    if (const Json* t = member(item, "type"); t != nullptr && t->is_string()) {
      type = t->get<std::string>();
    }
    chat::ContentPart part;
    // Same classification as the template's render_content macro.
    if (item.contains("image") || item.contains("image_url") || type == "image") {
      part.kind = chat::ContentPart::Kind::kImage;
    } else if (item.contains("video") || type == "video") {
      part.kind = chat::ContentPart::Kind::kVideo;
    } else if (const Json* text = member(item, "text"); text != nullptr) {
      if (!text->is_string()) return field_error(item_path + ".text", "must be a string");
      part.kind = chat::ContentPart::Kind::kText;
      part.text = text->get<std::string>();
    } else {
      return field_error(
          item_path, "has unsupported type '" + type + "' (expected a text, image or video part)");
    }
    parts.push_back(std::move(part));
  }
  return chat::MessageContent::from_parts(std::move(parts));
}

Result<chat::Value> read_arguments(const Json* args, const std::string& path,
                                   const ChatRequestParseOptions& options) {
  if (args == nullptr || args->is_null()) return chat::Value::object();
  if (args->is_object()) return value_from_json(*args);
  if (!options.decode_string_arguments) return value_from_json(*args);
  if (!args->is_string()) return field_error(path, "must be an object or a JSON string");
  const std::string& text = args->get_ref<const std::string&>();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return chat::Value::object();
  HEARTH_ASSIGN_OR_RETURN(Json decoded, parse_json_text(text, path));
  if (!decoded.is_object()) return field_error(path, "must encode a JSON object");
  return value_from_json(decoded);
}

Result<chat::ToolCall> read_tool_call(const Json& tc, const std::string& path,
                                      const ChatRequestParseOptions& options) {
  if (!tc.is_object()) return field_error(path, "must be an object");
  chat::ToolCall call;
  HEARTH_RETURN_IF_ERROR(read_optional_string(tc, "id", path + ".id", call.id));
  // OpenAI nests name/arguments under "function"; the flat form is accepted too.
  const Json* fn = member(tc, "function");
  std::string fn_path = path + ".function";
  if (fn == nullptr) {
    fn = &tc;
    fn_path = path;
  } else if (!fn->is_object()) {
    return field_error(fn_path, "must be an object");
  }
  const Json* name = member(*fn, "name");
  if (name == nullptr || !name->is_string())
    return field_error(fn_path + ".name", "must be a string");
  call.name = name->get<std::string>();
  HEARTH_ASSIGN_OR_RETURN(
      call.arguments, read_arguments(member(*fn, "arguments"), fn_path + ".arguments", options));
  return call;
}

Result<chat::Message> read_message(const Json& m, const std::string& path,
                                   const ChatRequestParseOptions& options) {
  if (!m.is_object()) return field_error(path, "must be an object");
  chat::Message message;
  const Json* role = member(m, "role");
  if (role == nullptr || !role->is_string()) return field_error(path + ".role", "must be a string");
  message.role = role->get<std::string>();
  if (message.role == "developer") message.role = "system";  // OpenAI's newer name for system

  HEARTH_ASSIGN_OR_RETURN(message.content, read_content(member(m, "content"), path + ".content"));

  for (const char* key : {"reasoning_content", "reasoning"}) {
    const Json* r = member(m, key);
    if (r == nullptr || r->is_null()) continue;
    if (!r->is_string()) return field_error(path + "." + key, "must be a string");
    message.reasoning_content = r->get<std::string>();
    break;
  }

  if (const Json* calls = member(m, "tool_calls"); calls != nullptr && !calls->is_null()) {
    if (!calls->is_array()) return field_error(path + ".tool_calls", "must be an array");
    for (size_t k = 0; k < calls->size(); ++k) {
      HEARTH_ASSIGN_OR_RETURN(
          chat::ToolCall call,
          read_tool_call((*calls)[k], path + ".tool_calls[" + std::to_string(k) + "]", options));
      message.tool_calls.push_back(std::move(call));
    }
  }
  HEARTH_RETURN_IF_ERROR(
      read_optional_string(m, "tool_call_id", path + ".tool_call_id", message.tool_call_id));
  HEARTH_RETURN_IF_ERROR(read_optional_string(m, "name", path + ".name", message.name));
  return message;
}

}  // namespace

Result<chat::ChatRequest> chat_request_from_json(const Json& body,
                                                 const ChatRequestParseOptions& options) {
  if (!body.is_object()) return invalid_argument_error("request body must be a JSON object");
  chat::ChatRequest request;

  const Json* messages = member(body, "messages");
  if (messages == nullptr) return invalid_argument_error("messages is required");
  if (!messages->is_array()) return field_error("messages", "must be an array");
  for (size_t i = 0; i < messages->size(); ++i) {
    HEARTH_ASSIGN_OR_RETURN(
        chat::Message message,
        read_message((*messages)[i], "messages[" + std::to_string(i) + "]", options));
    request.messages.push_back(std::move(message));
  }

  if (const Json* tools = member(body, "tools"); tools != nullptr && !tools->is_null()) {
    if (!tools->is_array()) return field_error("tools", "must be an array");
    for (size_t k = 0; k < tools->size(); ++k) {
      if (!(*tools)[k].is_object()) {
        return field_error("tools[" + std::to_string(k) + "]", "must be an object");
      }
    }
    request.tools = value_from_json(*tools);
  }

  if (const Json* effort = member(body, "reasoning_effort");
      effort != nullptr && !effort->is_null()) {
    if (!effort->is_string()) return field_error("reasoning_effort", "must be a string");
    if (effort->get<std::string>() == "none") request.enable_thinking = false;
  }

  HEARTH_RETURN_IF_ERROR(read_optional_bool(body, "add_generation_prompt", "add_generation_prompt",
                                            request.add_generation_prompt));

  if (const Json* kwargs = member(body, "chat_template_kwargs");
      kwargs != nullptr && !kwargs->is_null()) {
    if (!kwargs->is_object()) return field_error("chat_template_kwargs", "must be an object");
    HEARTH_RETURN_IF_ERROR(read_optional_bool(*kwargs, "enable_thinking",
                                              "chat_template_kwargs.enable_thinking",
                                              request.enable_thinking));
    HEARTH_RETURN_IF_ERROR(read_optional_bool(
        *kwargs, "add_vision_id", "chat_template_kwargs.add_vision_id", request.add_vision_id));
    HEARTH_RETURN_IF_ERROR(read_optional_bool(*kwargs, "add_generation_prompt",
                                              "chat_template_kwargs.add_generation_prompt",
                                              request.add_generation_prompt));
  }
  return request;
}

Result<chat::ChatRequest> parse_chat_request(std::string_view json_text,
                                             const ChatRequestParseOptions& options) {
  HEARTH_ASSIGN_OR_RETURN(Json body, parse_json_text(json_text, "request body"));
  return chat_request_from_json(body, options);
}

}  // namespace hearth::api
