// ChatTemplate: renders a ChatRequest into the prompt text a model expects. The Qwen3.5 format is
// implemented natively (byte-for-byte what the official Jinja template renders); a general Jinja
// interpreter can later implement the same interface for fine-tunes with changed templates.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "chat/chat_types.h"

namespace hearth::chat {

class ChatTemplate {
 public:
  virtual ~ChatTemplate() = default;
  // Short name for logs ("qwen3.5").
  virtual std::string_view name() const = 0;
  // The prompt text, or the template's own error (kInvalidArgument) for requests it rejects.
  virtual Result<std::string> render(const ChatRequest& request) const = 0;
};

// The built-in renderer of the official Qwen3.5 template.
std::unique_ptr<ChatTemplate> make_qwen35_template();

// The official Qwen3.5 template text (shared/testdata/tokenizer/qwen3.5/chat_template.jinja).
std::string_view qwen35_template_text();

// True when `template_text` is the Qwen3.5 template up to layout: line endings, indentation,
// trailing spaces, blank lines and leading/trailing whitespace are ignored (none of them change
// what this template renders: every statement uses whitespace control). Any other change,
// including to string literals, makes it false.
bool is_qwen35_template(std::string_view template_text);

// Picks the renderer for a model whose GGUF carries `gguf_template` (tokenizer.chat_template; empty
// when absent). Today that is always the Qwen3.5 renderer; when the GGUF's template is a different
// one, a warning says the model's own template is being ignored, and `matches_model` is false.
struct TemplateChoice {
  std::unique_ptr<ChatTemplate> chat_template;
  bool matches_model = true;  // false: the GGUF's template differs from what we render
  std::string note;           // human-readable reason when matches_model is false
};
TemplateChoice choose_chat_template(std::string_view gguf_template);

}  // namespace hearth::chat
