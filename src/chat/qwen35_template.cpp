// Native renderer of the official Qwen3.5 chat template (chat_template.jinja), plus template
// identification for GGUF-provided templates. Each step mirrors a statement of the Jinja source;
// comments quote the part of the template they reproduce where the behaviour is not obvious.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/log.h"
#include "chat/chat_template.h"

namespace hearth::chat {

namespace {

// ---------------------------------------------------------------------------------------------
// Python string helpers (the template runs under Python semantics).

// Python str.isspace() for one code point.
bool is_python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Decodes the code point starting at s[i]; sets len. Invalid bytes decode as themselves (len 1),
// which never count as whitespace above 0x7F, so malformed UTF-8 is simply kept.
uint32_t decode_at(std::string_view s, size_t i, size_t& len) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    len = 1;
    return 0xFFFFFFFF;
  }
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < n; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) {
      len = 1;
      return 0xFFFFFFFF;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  len = static_cast<size_t>(n);
  return cp;
}

// Jinja's `trim` filter: Python str.strip() (all Unicode whitespace at both ends).
std::string_view py_strip(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    size_t len = 0;
    uint32_t cp = decode_at(s, begin, len);
    if (!is_python_space(cp)) break;
    begin += len;
  }
  size_t end = s.size();
  while (end > begin) {
    // Find the start of the last code point (at most 3 continuation bytes back).
    size_t start = end - 1;
    while (start > begin && end - start < 4 &&
           (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
      --start;
    }
    size_t len = 0;
    uint32_t cp = decode_at(s, start, len);
    if (start + len != end || !is_python_space(cp)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

std::string_view lstrip_newlines(std::string_view s) {
  size_t i = s.find_first_not_of('\n');
  return i == std::string_view::npos ? std::string_view() : s.substr(i);
}

std::string_view rstrip_newlines(std::string_view s) {
  size_t i = s.find_last_not_of('\n');
  return i == std::string_view::npos ? std::string_view() : s.substr(0, i + 1);
}

// Python s.split(sep)[-1]: the text after the last occurrence (all of s when absent).
std::string_view after_last(std::string_view s, std::string_view sep) {
  size_t p = s.rfind(sep);
  return p == std::string_view::npos ? s : s.substr(p + sep.size());
}

// Python s.split(sep)[0].
std::string_view before_first(std::string_view s, std::string_view sep) {
  size_t p = s.find(sep);
  return p == std::string_view::npos ? s : s.substr(0, p);
}

Status template_error(std::string_view message) {
  return invalid_argument_error("chat template error: " + std::string(message));
}

Status template_error_at(std::string_view message, size_t index) {
  return invalid_argument_error(str_format("chat template error: %.*s (messages[%zu])",
                                           static_cast<int>(message.size()), message.data(),
                                           index));
}

constexpr std::string_view kToolsPreamble =
    "# Tools\n\nYou have access to the following functions:\n\n<tools>";
constexpr std::string_view kToolsInstructions =
    "\n</tools>\n\nIf you choose to call a function ONLY reply in the following format with NO "
    "suffix:\n\n<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>"
    "\nvalue_1\n</parameter>\n<parameter=example_parameter_2>\nThis is the value for the second "
    "parameter\nthat can span\nmultiple lines\n</parameter>\n</function>\n</tool_call>\n\n"
    "<IMPORTANT>\nReminder:\n- Function calls MUST follow the specified format: an inner "
    "<function=...></function> block must be nested within <tool_call></tool_call> XML tags\n"
    "- Required parameters MUST be specified\n- You may provide optional reasoning for your "
    "function call in natural language BEFORE the function call, but NOT after\n- If there is "
    "no function call available, answer the question like normal with your current knowledge "
    "and do not tell the user about function calls\n</IMPORTANT>";

class Qwen35Renderer {
 public:
  explicit Qwen35Renderer(const ChatRequest& request) : request_(request) {}

  Result<std::string> render() {
    const auto& messages = request_.messages;
    if (messages.empty()) return template_error("No messages provided.");
    std::string out;

    // {%- if tools and tools is iterable and tools is not mapping %}: a non-empty list.
    bool has_tools = request_.tools.is_array() && request_.tools.size() > 0;
    bool first_is_system = messages[0].role == "system";
    if (has_tools) {
      out += "<|im_start|>system\n";
      out += kToolsPreamble;
      for (const Value& tool : request_.tools.as_array()) {
        out += '\n';
        out += to_json(tool);
      }
      out += kToolsInstructions;
      if (first_is_system) {
        HEARTH_ASSIGN_OR_RETURN(std::string raw, render_content(messages[0].content, false, true));
        std::string_view content = py_strip(raw);
        if (!content.empty()) {
          out += "\n\n";
          out += content;
        }
      }
      out += "<|im_end|>\n";
    } else if (first_is_system) {
      HEARTH_ASSIGN_OR_RETURN(std::string raw, render_content(messages[0].content, false, true));
      out += "<|im_start|>system\n";
      out += py_strip(raw);
      out += "<|im_end|>\n";
    }

    // The last "real" user query: the last user message that is not purely a tool-response
    // wrapper. Assistant turns after it keep their reasoning.
    size_t last_query_index = 0;
    bool found_query = false;
    for (size_t k = messages.size(); k-- > 0;) {
      if (messages[k].role != "user") continue;
      HEARTH_ASSIGN_OR_RETURN(std::string raw, render_content(messages[k].content, false, false));
      std::string_view content = py_strip(raw);
      bool wrapper =
          content.starts_with("<tool_response>") && content.ends_with("</tool_response>");
      if (!wrapper) {
        last_query_index = k;
        found_query = true;
        break;
      }
    }
    if (!found_query) return template_error("No user query found in messages.");

    for (size_t i = 0; i < messages.size(); ++i) {
      const Message& message = messages[i];
      HEARTH_ASSIGN_OR_RETURN(std::string raw, render_content(message.content, true, false));
      std::string_view content = py_strip(raw);
      if (message.role == "system") {
        if (i != 0) return template_error_at("System message must be at the beginning.", i);
      } else if (message.role == "user") {
        out += "<|im_start|>user\n";
        out += content;
        out += "<|im_end|>\n";
      } else if (message.role == "assistant") {
        HEARTH_RETURN_IF_ERROR(render_assistant(message, content, i > last_query_index, i, out));
      } else if (message.role == "tool") {
        // Consecutive tool results share one user turn. loop.previtem is undefined (falsy) for
        // the first message, so a leading tool message gets no header.
        if (i > 0 && messages[i - 1].role != "tool") out += "<|im_start|>user";
        out += "\n<tool_response>\n";
        out += content;
        out += "\n</tool_response>";
        bool last = i + 1 == messages.size();
        if (last || messages[i + 1].role != "tool") out += "<|im_end|>\n";
      } else {
        return template_error_at("Unexpected message role.", i);
      }
    }

    if (request_.add_generation_prompt) {
      out += "<|im_start|>assistant\n";
      out += request_.enable_thinking ? "<think>\n" : "<think>\n\n</think>\n\n";
    }
    return out;
  }

 private:
  // The template's render_content macro.
  Result<std::string> render_content(const MessageContent& content, bool do_vision_count,
                                     bool is_system_content) {
    switch (content.kind) {
      case MessageContent::Kind::kNone:
        return std::string();
      case MessageContent::Kind::kText:
        return content.text;
      case MessageContent::Kind::kParts:
        break;
    }
    std::string out;
    for (const ContentPart& part : content.parts) {
      switch (part.kind) {
        case ContentPart::Kind::kImage:
          if (is_system_content) return template_error("System message cannot contain images.");
          if (do_vision_count) ++image_count_;
          if (request_.add_vision_id) out += "Picture " + std::to_string(image_count_) + ": ";
          out += "<|vision_start|><|image_pad|><|vision_end|>";
          break;
        case ContentPart::Kind::kVideo:
          if (is_system_content) return template_error("System message cannot contain videos.");
          if (do_vision_count) ++video_count_;
          if (request_.add_vision_id) out += "Video " + std::to_string(video_count_) + ": ";
          out += "<|vision_start|><|video_pad|><|vision_end|>";
          break;
        case ContentPart::Kind::kText:
          out += part.text;
          break;
      }
    }
    return out;
  }

  Status render_assistant(const Message& message, std::string_view content, bool after_last_query,
                          size_t index, std::string& out) {
    std::string_view reasoning;
    if (message.reasoning_content.has_value()) {
      reasoning = *message.reasoning_content;
    } else if (content.find("</think>") != std::string_view::npos) {
      // content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
      reasoning = lstrip_newlines(
          after_last(rstrip_newlines(before_first(content, "</think>")), "<think>"));
      // content.split('</think>')[-1].lstrip('\n')
      content = lstrip_newlines(after_last(content, "</think>"));
    }
    reasoning = py_strip(reasoning);
    if (after_last_query) {
      out += "<|im_start|>assistant\n<think>\n";
      out += reasoning;
      out += "\n</think>\n\n";
      out += content;
    } else {
      out += "<|im_start|>assistant\n";
      out += content;
    }
    bool first = true;
    for (const ToolCall& call : message.tool_calls) {
      if (first) {
        out +=
            py_strip(content).empty() ? "<tool_call>\n<function=" : "\n\n<tool_call>\n<function=";
      } else {
        out += "\n<tool_call>\n<function=";
      }
      first = false;
      out += call.name;
      out += ">\n";
      // `tool_call.arguments|items` fails for anything but a mapping (an OpenAI JSON string
      // included), with Jinja's own message.
      if (!call.arguments.is_object()) {
        return template_error_at("Can only get item pairs from a mapping.", index);
      }
      for (const auto& [arg_name, arg_value] : call.arguments.as_object()) {
        out += "<parameter=";
        out += arg_name;
        out += ">\n";
        // Mappings and non-string sequences go through tojson; everything else through `string`.
        out += (arg_value.is_object() || arg_value.is_array()) ? to_json(arg_value)
                                                               : to_python_str(arg_value);
        out += "\n</parameter>\n";
      }
      out += "</function>\n</tool_call>";
    }
    out += "<|im_end|>\n";
    return Status::ok();
  }

  const ChatRequest& request_;
  int image_count_ = 0;  // namespace image_count: counts over the whole conversation
  int video_count_ = 0;
};

class Qwen35Template final : public ChatTemplate {
 public:
  std::string_view name() const override { return "qwen3.5"; }
  Result<std::string> render(const ChatRequest& request) const override {
    return Qwen35Renderer(request).render();
  }
};

// Layout-insensitive form of a template: per line, surrounding spaces/tabs/CRs removed; empty
// lines dropped.
std::string normalise_template(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    size_t b = line.find_first_not_of(" \t\r\f\v");
    if (b != std::string_view::npos) {
      size_t e = line.find_last_not_of(" \t\r\f\v");
      if (!out.empty()) out += '\n';
      out += line.substr(b, e - b + 1);
    }
    pos = nl + 1;
  }
  return out;
}

}  // namespace

std::unique_ptr<ChatTemplate> make_qwen35_template() {
  return std::make_unique<Qwen35Template>();
}

bool is_qwen35_template(std::string_view template_text) {
  static const std::string kReference = normalise_template(qwen35_template_text());
  return normalise_template(template_text) == kReference;
}

TemplateChoice choose_chat_template(std::string_view gguf_template) {
  TemplateChoice choice;
  choice.chat_template = make_qwen35_template();
  if (gguf_template.empty()) {
    LOG_INFO("model has no tokenizer.chat_template; using the built-in Qwen3.5 chat format");
    return choice;
  }
  if (!is_qwen35_template(gguf_template)) {
    choice.matches_model = false;
    choice.note =
        "the model's tokenizer.chat_template differs from the official Qwen3.5 template (a "
        "fine-tune with its own format?); prompts are rendered with the built-in Qwen3.5 format "
        "instead, which may not be what this model was trained on";
    LOG_WARN("%s", choice.note.c_str());
  }
  return choice;
}

}  // namespace hearth::chat
