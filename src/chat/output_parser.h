// OutputParser: a streaming state machine that splits generated Qwen3.5 text into reasoning
// (<think>...</think>), content, and tool calls in Qwen's XML form
//   <tool_call>\n<function=NAME>\n<parameter=P>\nVALUE\n</parameter>\n...</function>\n</tool_call>
// Text can be fed in arbitrary pieces (a tag or a UTF-8 character split across tokens); deltas are
// only emitted once they cannot be the start of a tag, and always end on a UTF-8 boundary.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "chat/chat_types.h"
#include "chat/value.h"

namespace hearth::chat {

struct ParsedToolCall {
  std::string name;
  Value arguments = Value::object();  // parameter name -> value typed by the tool's schema
  std::string raw;                    // the full "<tool_call>...</tool_call>" text
};

struct ParseEvent {
  enum class Kind {
    kReasoningDelta,  // text: more reasoning
    kContentDelta,    // text: more answer text
    kToolCall,        // tool_call: one complete call
    kToolCallError,   // text: raw call text; error: why it could not be parsed
  };
  Kind kind = Kind::kContentDelta;
  std::string text;
  ParsedToolCall tool_call;
  std::string error;
  bool truncated = false;  // kToolCallError: generation stopped inside the call
};

struct OutputParserOptions {
  // The prompt already opened the reasoning block (Qwen3.5 with thinking on ends the prompt with
  // "<think>\n"), so generation starts inside reasoning. With thinking off the prompt closes an
  // empty block and generation starts in content; a "<think>" at the very start of the output is
  // still recognised.
  bool reasoning_open = true;
  // The request's `tools` (OpenAI shape), used to type parameter values: "string" parameters stay
  // strings; integer/number/boolean/null/object/array ones are parsed, falling back to the raw
  // string when the text does not parse. Parameters with no declared type are parsed as JSON when
  // possible, else kept as strings.
  Value tools;
};

// Options matching a rendered request: reasoning is open when the generation prompt ended with
// "<think>\n" (add_generation_prompt with thinking on); parameters are typed by its tools.
OutputParserOptions output_parser_options_for(const ChatRequest& request);

class OutputParser {
 public:
  explicit OutputParser(OutputParserOptions options = {});

  // Feeds the next piece of generated text; returns the events it completes (consecutive deltas
  // of one channel are merged).
  std::vector<ParseEvent> feed(std::string_view text);
  // End of generation: flushes held-back text and reports a tool call cut off before
  // </tool_call> as a kToolCallError with truncated = true (its raw text and, when the function
  // name was reached, a best-effort parse in tool_call).
  std::vector<ParseEvent> finish();

  // True while generation is inside the reasoning block (e.g. to count reasoning tokens).
  bool in_reasoning() const { return state_ == State::kReasoning; }
  // Number of complete tool calls emitted so far.
  int tool_call_count() const { return tool_calls_; }

 private:
  enum class State { kReasoning, kContent, kToolCall, kDone };

  void process(bool final, std::vector<ParseEvent>& events);
  void emit_reasoning(std::string_view text, bool closing, std::vector<ParseEvent>& events);
  void emit_content(std::string_view text, bool before_tool_call, std::vector<ParseEvent>& events);
  void emit_tool_call(std::string_view raw, bool truncated, std::vector<ParseEvent>& events);

  OutputParserOptions options_;
  State state_;
  std::string pending_;           // received text not yet assigned to a channel
  std::string tool_raw_;          // body of the tool call being received
  std::string held_whitespace_;   // trailing whitespace not yet known to be meaningful
  bool channel_started_ = false;  // a non-whitespace char was emitted on the current channel
  bool may_open_think_ = false;   // still at the start of the output, "<think>" would open
  int tool_calls_ = 0;
};

// Whole-text convenience: the channels of a complete generation.
struct ParsedOutput {
  std::string reasoning;
  std::string content;
  std::vector<ParsedToolCall> tool_calls;
  std::vector<ParseEvent> errors;  // kToolCallError events
};
ParsedOutput parse_output(std::string_view text, const OutputParserOptions& options = {});

// Parses the inside of one <tool_call>...</tool_call> block (tags excluded). Tolerant of missing
// closing </parameter> / </function>; fails only when there is no <function=NAME>.
Result<ParsedToolCall> parse_tool_call_body(std::string_view body, const Value& tools);

// Converts one parameter's text to a Value following a JSON-schema type (a string such as
// "integer", an array of such strings, or null when undeclared).
Value convert_parameter_value(std::string_view text, const Value* schema_type);

}  // namespace hearth::chat
