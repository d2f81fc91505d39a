// Streaming splitter of generated Qwen3.5 text into reasoning / content / tool calls, and the
// conversion of XML tool-call parameters into typed values.
#include "chat/output_parser.h"

#include <cmath>
#include <utility>

namespace hearth::chat {

namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kToolCallOpen = "<tool_call>";
constexpr std::string_view kToolCallClose = "</tool_call>";
constexpr std::string_view kFunctionOpen = "<function=";
constexpr std::string_view kFunctionClose = "</function>";
constexpr std::string_view kParameterOpen = "<parameter=";
constexpr std::string_view kParameterClose = "</parameter>";
constexpr const char* kWhitespace = " \t\n\r\f\v";

// Length of the longest proper prefix of `tag` that `text` ends with: bytes that must wait for
// the next piece before they can be emitted.
size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  size_t max_len = std::min(text.size(), tag.size() - 1);
  for (size_t len = max_len; len > 0; --len) {
    if (text.substr(text.size() - len) == tag.substr(0, len)) return len;
  }
  return 0;
}

// Largest end <= `end` that does not cut a UTF-8 sequence in two.
size_t utf8_safe_end(std::string_view s, size_t end) {
  for (size_t back = 1; back <= 3 && back <= end; ++back) {
    unsigned char c = static_cast<unsigned char>(s[end - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return back < need ? end - back : end;
  }
  return end;
}

std::string_view strip_ascii(std::string_view s) {
  size_t b = s.find_first_not_of(kWhitespace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kWhitespace);
  return s.substr(b, e - b + 1);
}

void add_delta(std::vector<ParseEvent>& events, ParseEvent::Kind kind, std::string_view text) {
  if (text.empty()) return;
  if (!events.empty() && events.back().kind == kind) {
    events.back().text += text;
    return;
  }
  ParseEvent e;
  e.kind = kind;
  e.text = std::string(text);
  events.push_back(std::move(e));
}

// Emits `text` on one channel: whitespace at the start of the channel is dropped and trailing
// whitespace is held back in `held` until later text shows that it is inside the channel.
void emit_channel_text(std::string_view text, ParseEvent::Kind kind, bool& started,
                       std::string& held, std::vector<ParseEvent>& events) {
  if (!started) {
    size_t b = text.find_first_not_of(kWhitespace);
    text = b == std::string_view::npos ? std::string_view() : text.substr(b);
  }
  size_t e = text.find_last_not_of(kWhitespace);
  std::string_view body = e == std::string_view::npos ? std::string_view() : text.substr(0, e + 1);
  std::string_view trail = text.substr(body.size());
  if (!body.empty()) {
    add_delta(events, kind, held);
    add_delta(events, kind, body);
    held.clear();
    started = true;
  }
  held.append(trail);
}

// The `properties` object of the tool called `name` in an OpenAI tools array, or nullptr.
const Value* find_tool_properties(const Value& tools, std::string_view name) {
  if (!tools.is_array()) return nullptr;
  for (const Value& tool : tools.as_array()) {
    const Value* fn = tool.find("function");
    if (fn == nullptr) fn = &tool;  // also accept the flat {name, parameters} shape
    const Value* fn_name = fn->find("name");
    if (fn_name == nullptr || !fn_name->is_string() || fn_name->as_string() != name) continue;
    const Value* params = fn->find("parameters");
    if (params == nullptr) return nullptr;
    const Value* props = params->find("properties");
    return (props != nullptr && props->is_object()) ? props : nullptr;
  }
  return nullptr;
}

// Tries one JSON-schema type; false when the text is not a value of that type.
bool convert_as(std::string_view type, std::string_view text, Value& out) {
  std::string_view t = strip_ascii(text);
  if (type == "boolean") {
    // The template renders history booleans with Python str(): accept both spellings.
    if (t == "true" || t == "True") {
      out = Value(true);
      return true;
    }
    if (t == "false" || t == "False") {
      out = Value(false);
      return true;
    }
    return false;
  }
  if (type == "null") {
    if (t == "null" || t == "None") {
      out = Value(nullptr);
      return true;
    }
    return false;
  }
  if (type != "integer" && type != "number" && type != "object" && type != "array") return false;
  Result<Value> parsed = parse_json(t);
  if (!parsed.is_ok()) return false;
  Value& v = parsed.value();
  if (type == "integer") {
    if (v.is_int()) {
      out = std::move(v);
      return true;
    }
    // "3.0" for an integer parameter: accept when exactly integral.
    if (v.is_double() && std::trunc(v.as_double()) == v.as_double() &&
        std::fabs(v.as_double()) < 9.0e15) {
      out = Value(static_cast<int64_t>(v.as_double()));
      return true;
    }
    return false;
  }
  if ((type == "number" && v.is_number()) || (type == "object" && v.is_object()) ||
      (type == "array" && v.is_array())) {
    out = std::move(v);
    return true;
  }
  return false;
}

}  // namespace

Value convert_parameter_value(std::string_view text, const Value* schema_type) {
  std::vector<std::string_view> types;
  if (schema_type != nullptr && schema_type->is_string()) {
    types.push_back(schema_type->as_string());
  } else if (schema_type != nullptr && schema_type->is_array()) {
    for (const Value& t : schema_type->as_array()) {
      if (t.is_string()) types.push_back(t.as_string());
    }
  }
  if (types.empty()) {
    // Undeclared: whatever JSON (or Python literal, as the template prints them) it spells.
    Result<Value> parsed = parse_json(strip_ascii(text));
    if (parsed.is_ok()) return std::move(parsed).value();
    Value v;
    if (convert_as("boolean", text, v) || convert_as("null", text, v)) return v;
    return Value(std::string(text));
  }
  // Non-string types first: with ["string", "null"], "null" means null.
  for (std::string_view type : types) {
    Value v;
    if (type != "string" && convert_as(type, text, v)) return v;
  }
  return Value(std::string(text));  // declared string, or the tolerant fallback
}

Result<ParsedToolCall> parse_tool_call_body(std::string_view body, const Value& tools) {
  size_t fpos = body.find(kFunctionOpen);
  if (fpos == std::string_view::npos) {
    return invalid_argument_error("tool call has no <function=NAME> tag");
  }
  size_t name_begin = fpos + kFunctionOpen.size();
  size_t name_end = body.find('>', name_begin);
  if (name_end == std::string_view::npos) {
    return invalid_argument_error("tool call's <function=...> tag is not closed");
  }
  ParsedToolCall call;
  call.name = std::string(strip_ascii(body.substr(name_begin, name_end - name_begin)));
  if (call.name.empty()) return invalid_argument_error("tool call has an empty function name");
  std::string_view rest = body.substr(name_end + 1);
  size_t fend = rest.find(kFunctionClose);
  if (fend != std::string_view::npos) rest = rest.substr(0, fend);
  const Value* properties = find_tool_properties(tools, call.name);

  size_t cursor = 0;
  while (true) {
    size_t p = rest.find(kParameterOpen, cursor);
    if (p == std::string_view::npos) break;
    size_t pname_begin = p + kParameterOpen.size();
    size_t pname_end = rest.find('>', pname_begin);
    if (pname_end == std::string_view::npos) break;  // cut off inside the tag
    std::string pname(strip_ascii(rest.substr(pname_begin, pname_end - pname_begin)));
    size_t vbegin = pname_end + 1;
    size_t close = rest.find(kParameterClose, vbegin);
    size_t next = rest.find(kParameterOpen, vbegin);
    size_t vend;
    if (close != std::string_view::npos && (next == std::string_view::npos || close < next)) {
      vend = close;
      cursor = close + kParameterClose.size();
    } else if (next != std::string_view::npos) {
      vend = next;  // missing </parameter>: the value runs to the next parameter
      cursor = next;
    } else {
      vend = rest.size();
      cursor = rest.size();
    }
    std::string_view value = rest.substr(vbegin, vend - vbegin);
    // The format puts exactly one newline after the opening tag and before the closing one.
    if (value.starts_with('\n')) value.remove_prefix(1);
    if (value.ends_with('\n')) value.remove_suffix(1);
    const Value* type = nullptr;
    if (properties != nullptr) {
      const Value* prop = properties->find(pname);
      if (prop != nullptr) type = prop->find("type");
    }
    call.arguments.set(std::move(pname), convert_parameter_value(value, type));
  }
  return call;
}

OutputParserOptions output_parser_options_for(const ChatRequest& request) {
  OutputParserOptions options;
  options.reasoning_open = request.add_generation_prompt && request.enable_thinking;
  options.tools = request.tools;
  return options;
}

OutputParser::OutputParser(OutputParserOptions options) : options_(std::move(options)) {
  state_ = options_.reasoning_open ? State::kReasoning : State::kContent;
  may_open_think_ = !options_.reasoning_open;
}

std::vector<ParseEvent> OutputParser::feed(std::string_view text) {
  std::vector<ParseEvent> events;
  if (state_ == State::kDone) return events;
  pending_.append(text);
  process(false, events);
  return events;
}

std::vector<ParseEvent> OutputParser::finish() {
  std::vector<ParseEvent> events;
  if (state_ == State::kDone) return events;
  process(true, events);
  if (state_ == State::kToolCall) emit_tool_call(tool_raw_, true, events);
  // Trailing whitespace of the last channel is dropped (the template trims both channels).
  held_whitespace_.clear();
  state_ = State::kDone;
  return events;
}

void OutputParser::process(bool final, std::vector<ParseEvent>& events) {
  while (true) {
    switch (state_) {
      case State::kReasoning: {
        size_t pos = pending_.find(kThinkClose);
        if (pos != std::string::npos) {
          emit_reasoning(std::string_view(pending_).substr(0, pos), true, events);
          pending_.erase(0, pos + kThinkClose.size());
          state_ = State::kContent;
          channel_started_ = false;
          may_open_think_ = false;
          continue;
        }
        size_t safe = pending_.size();
        if (!final)
          safe = utf8_safe_end(pending_, safe - partial_tag_suffix(pending_, kThinkClose));
        emit_reasoning(std::string_view(pending_).substr(0, safe), false, events);
        pending_.erase(0, safe);
        return;
      }
      case State::kContent: {
        if (may_open_think_) {
          size_t first = pending_.find_first_not_of(kWhitespace);
          if (first == std::string::npos && !final) return;  // only whitespace so far
          if (first != std::string::npos) {
            std::string_view rest = std::string_view(pending_).substr(first);
            if (rest.starts_with(kThinkOpen)) {
              pending_.erase(0, first + kThinkOpen.size());
              state_ = State::kReasoning;
              channel_started_ = false;
              may_open_think_ = false;
              continue;
            }
            if (!final && kThinkOpen.starts_with(rest)) return;  // could still become <think>
          }
          may_open_think_ = false;
        }
        size_t pos = pending_.find(kToolCallOpen);
        if (pos != std::string::npos) {
          emit_content(std::string_view(pending_).substr(0, pos), true, events);
          pending_.erase(0, pos + kToolCallOpen.size());
          state_ = State::kToolCall;
          tool_raw_.clear();
          continue;
        }
        size_t safe = pending_.size();
        if (!final) {
          safe = utf8_safe_end(pending_, safe - partial_tag_suffix(pending_, kToolCallOpen));
        }
        emit_content(std::string_view(pending_).substr(0, safe), false, events);
        pending_.erase(0, safe);
        return;
      }
      case State::kToolCall: {
        // Only the new bytes (plus a tag's length of overlap) need searching.
        size_t search_from = tool_raw_.size() >= kToolCallClose.size()
                                 ? tool_raw_.size() - kToolCallClose.size() + 1
                                 : 0;
        tool_raw_ += pending_;
        pending_.clear();
        size_t pos = tool_raw_.find(kToolCallClose, search_from);
        if (pos == std::string::npos) return;
        pending_ = tool_raw_.substr(pos + kToolCallClose.size());
        tool_raw_.resize(pos);
        emit_tool_call(tool_raw_, false, events);
        tool_raw_.clear();
        state_ = State::kContent;
        continue;
      }
      case State::kDone:
        return;
    }
  }
}

void OutputParser::emit_reasoning(std::string_view text, bool closing,
                                  std::vector<ParseEvent>& events) {
  emit_channel_text(text, ParseEvent::Kind::kReasoningDelta, channel_started_, held_whitespace_,
                    events);
  if (closing) held_whitespace_.clear();  // "\n</think>": the newline belongs to the format
}

void OutputParser::emit_content(std::string_view text, bool before_tool_call,
                                std::vector<ParseEvent>& events) {
  emit_channel_text(text, ParseEvent::Kind::kContentDelta, channel_started_, held_whitespace_,
                    events);
  // The "\n\n" before a first call and "\n" between calls are separators, not content.
  if (before_tool_call) held_whitespace_.clear();
}

void OutputParser::emit_tool_call(std::string_view body, bool truncated,
                                  std::vector<ParseEvent>& events) {
  ParseEvent event;
  std::string raw = std::string(kToolCallOpen) + std::string(body);
  if (!truncated) raw += kToolCallClose;
  Result<ParsedToolCall> parsed = parse_tool_call_body(body, options_.tools);
  if (parsed.is_ok()) {
    event.tool_call = std::move(parsed).value();
    event.tool_call.raw = raw;
  }
  if (truncated) {
    event.kind = ParseEvent::Kind::kToolCallError;
    event.truncated = true;
    event.error = "generation stopped inside a tool call (no </tool_call>)";
    if (!event.tool_call.name.empty()) {
      event.error += ": call to '" + event.tool_call.name + "' is incomplete";
    }
  } else if (parsed.is_ok()) {
    event.kind = ParseEvent::Kind::kToolCall;
    ++tool_calls_;
  } else {
    event.kind = ParseEvent::Kind::kToolCallError;
    event.error = "malformed tool call: " + parsed.status().message();
  }
  event.text = std::move(raw);
  events.push_back(std::move(event));
}

ParsedOutput parse_output(std::string_view text, const OutputParserOptions& options) {
  OutputParser parser(options);
  std::vector<ParseEvent> events = parser.feed(text);
  std::vector<ParseEvent> tail = parser.finish();
  events.insert(events.end(), std::make_move_iterator(tail.begin()),
                std::make_move_iterator(tail.end()));
  ParsedOutput out;
  for (ParseEvent& e : events) {
    switch (e.kind) {
      case ParseEvent::Kind::kReasoningDelta:
        out.reasoning += e.text;
        break;
      case ParseEvent::Kind::kContentDelta:
        out.content += e.text;
        break;
      case ParseEvent::Kind::kToolCall:
        out.tool_calls.push_back(std::move(e.tool_call));
        break;
      case ParseEvent::Kind::kToolCallError:
        out.errors.push_back(std::move(e));
        break;
    }
  }
  return out;
}

}  // namespace hearth::chat
