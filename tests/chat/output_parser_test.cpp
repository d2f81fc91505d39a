// OutputParser: reasoning / content / tool-call channels, typed arguments, streaming invariance
// (every split position and 1-byte pieces give the same result), truncation and malformed calls.
#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "chat/output_parser.h"

namespace hearth::chat {
namespace {

// Everything a parse produced, comparable across feeding strategies.
struct Collected {
  std::string reasoning;
  std::string content;
  std::vector<std::string> calls;   // "name " + to_json(arguments) + " | " + raw
  std::vector<std::string> errors;  // error + " | " + raw
  std::vector<ParseEvent> events;

  bool operator==(const Collected& o) const {
    return reasoning == o.reasoning && content == o.content && calls == o.calls &&
           errors == o.errors;
  }
};

void collect(std::vector<ParseEvent> events, Collected& out) {
  for (ParseEvent& e : events) {
    switch (e.kind) {
      case ParseEvent::Kind::kReasoningDelta:
        out.reasoning += e.text;
        break;
      case ParseEvent::Kind::kContentDelta:
        out.content += e.text;
        break;
      case ParseEvent::Kind::kToolCall:
        out.calls.push_back(e.tool_call.name + " " + to_json(e.tool_call.arguments) + " | " +
                            e.tool_call.raw);
        break;
      case ParseEvent::Kind::kToolCallError:
        out.errors.push_back(e.error + (e.truncated ? " [truncated]" : "") + " | " + e.text);
        break;
    }
    out.events.push_back(std::move(e));
  }
}

Collected run_pieces(const std::vector<std::string>& pieces, const OutputParserOptions& options) {
  OutputParser parser(options);
  Collected out;
  for (const std::string& p : pieces) collect(parser.feed(p), out);
  collect(parser.finish(), out);
  return out;
}

Collected run_whole(std::string_view text, const OutputParserOptions& options = {}) {
  return run_pieces({std::string(text)}, options);
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Feeding `text` whole, split in two at every byte position, and in 1-byte pieces must give the
// same channels; every delta must be valid UTF-8 when the input is.
void expect_split_invariant(std::string_view text, const OutputParserOptions& options) {
  Collected whole = run_whole(text, options);
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Collected split =
        run_pieces({std::string(text.substr(0, cut)), std::string(text.substr(cut))}, options);
    EXPECT_TRUE(split == whole) << "split at byte " << cut << " of: " << text << "\nreasoning: ["
                                << split.reasoning << "] vs [" << whole.reasoning << "]\ncontent: ["
                                << split.content << "] vs [" << whole.content << "]";
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  Collected one_by_one = run_pieces(bytes, options);
  EXPECT_TRUE(one_by_one == whole) << "1-byte pieces differ for: " << text;
  for (const ParseEvent& e : one_by_one.events) {
    if (e.kind == ParseEvent::Kind::kReasoningDelta || e.kind == ParseEvent::Kind::kContentDelta) {
      EXPECT_TRUE(valid_utf8(e.text)) << "delta cuts a UTF-8 character: " << e.text;
    }
  }
}

Value calc_tools() {
  Result<Value> tools = parse_json(R"([{"type": "function", "function": {"name": "calc",
      "parameters": {"type": "object", "properties": {
        "x": {"type": "number"}, "n": {"type": "integer"}, "flags": {"type": "object"},
        "items": {"type": "array"}, "verbose": {"type": "boolean"}, "note": {"type": "string"},
        "code": {"type": "string"}, "maybe": {"type": ["integer", "null"]},
        "opt": {"type": ["string", "null"]}}}}},
      {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
        "properties": {"city": {"type": "string"}}}}}])");
  EXPECT_TRUE(tools.is_ok());
  return *tools;
}

const char* kThinkingText = "The user asks 2+2.\nThat is 4.\n</think>\n\nThe answer is **4**.";

const char* kTwoCalls =
    "Let me check both.\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n"
    "</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=get_weather>\n"
    "<parameter=city>\nRome\n</parameter>\n</function>\n</tool_call>";

TEST(OutputParser, ThinkingOn) {
  Collected c = run_whole(kThinkingText);
  EXPECT_EQ(c.reasoning, "The user asks 2+2.\nThat is 4.");
  EXPECT_EQ(c.content, "The answer is **4**.");
  EXPECT_TRUE(c.calls.empty());
  EXPECT_TRUE(c.errors.empty());
}

TEST(OutputParser, ThinkingOffAndExplicitThinkOpen) {
  OutputParserOptions off;
  off.reasoning_open = false;
  Collected c = run_whole("Hello <think> is just text here.", off);
  EXPECT_EQ(c.reasoning, "");
  EXPECT_EQ(c.content, "Hello <think> is just text here.");
  // A model that opens the block itself at the start of its output.
  c = run_whole("\n<think>\nhmm\n</think>\n\nHi!", off);
  EXPECT_EQ(c.reasoning, "hmm");
  EXPECT_EQ(c.content, "Hi!");
  // A prefix of "<think>" that turns out to be text.
  c = run_whole("<thin ice>", off);
  EXPECT_EQ(c.content, "<thin ice>");
}

TEST(OutputParser, UnterminatedReasoningStaysReasoning) {
  OutputParser parser;
  Collected c;
  collect(parser.feed("still thinking </thi"), c);
  EXPECT_TRUE(parser.in_reasoning());
  collect(parser.finish(), c);
  EXPECT_EQ(c.reasoning, "still thinking </thi");
  EXPECT_EQ(c.content, "");
}

TEST(OutputParser, MultipleToolCalls) {
  OutputParserOptions options;
  options.reasoning_open = false;
  options.tools = calc_tools();
  OutputParser parser(options);
  Collected c;
  collect(parser.feed(kTwoCalls), c);
  collect(parser.finish(), c);
  EXPECT_EQ(c.content, "Let me check both.");
  ASSERT_EQ(c.calls.size(), 2u);
  EXPECT_EQ(parser.tool_call_count(), 2);
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.events[1].tool_call.name, "get_weather");
  EXPECT_EQ(to_json(c.events[1].tool_call.arguments), R"({"city": "Paris"})");
  EXPECT_EQ(to_json(c.events[2].tool_call.arguments), R"({"city": "Rome"})");
  EXPECT_EQ(c.events[2].tool_call.raw,
            "<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n</parameter>\n"
            "</function>\n</tool_call>");
  EXPECT_TRUE(c.errors.empty());
}

TEST(OutputParser, TypedArguments) {
  OutputParserOptions options;
  options.tools = calc_tools();
  Collected c = run_whole(
      "need calc\n</think>\n\n<tool_call>\n<function=calc>\n"
      "<parameter=x>\n3.5\n</parameter>\n<parameter=n>\n7\n</parameter>\n"
      "<parameter=flags>\n{\"deep\": true, \"name\": \"é\"}\n</parameter>\n"
      "<parameter=items>\n[1, \"two\", "
      "null]\n</parameter>\n<parameter=verbose>\nTrue\n</parameter>\n"
      "<parameter=note>\n42\n</parameter>\n<parameter=code>\nline1\n\n  line3\n</parameter>\n"
      "<parameter=maybe>\nNone\n</parameter>\n<parameter=opt>\nnull\n</parameter>\n"
      "<parameter=extra>\n[1,2]\n</parameter>\n<parameter=word>\nhello\n</parameter>\n"
      "</function>\n</tool_call>",
      options);
  ASSERT_EQ(c.calls.size(), 1u) << (c.errors.empty() ? "" : c.errors[0]);
  const Value& args = c.events.back().tool_call.arguments;
  EXPECT_EQ(*args.find("x"), Value(3.5));
  EXPECT_EQ(*args.find("n"), Value(7));
  EXPECT_EQ(to_json(*args.find("flags")), R"({"deep": true, "name": "é"})");
  EXPECT_EQ(to_json(*args.find("items")), R"([1, "two", null])");
  EXPECT_EQ(*args.find("verbose"), Value(true));
  EXPECT_EQ(*args.find("note"), Value("42"));  // declared string stays a string
  EXPECT_EQ(*args.find("code"), Value("line1\n\n  line3"));
  EXPECT_EQ(*args.find("maybe"), Value());
  EXPECT_EQ(*args.find("opt"), Value());
  EXPECT_EQ(to_json(*args.find("extra")), "[1, 2]");  // undeclared: JSON when it parses
  EXPECT_EQ(*args.find("word"), Value("hello"));      // ... else the raw string
  EXPECT_EQ(c.reasoning, "need calc");
  EXPECT_EQ(c.content, "");
}

TEST(OutputParser, TolerantFallbackToString) {
  Value tools = calc_tools();
  Value number_type("number");
  Value integer_type("integer");
  Value boolean_type("boolean");
  Value object_type("object");
  EXPECT_EQ(convert_parameter_value("abc", &number_type), Value("abc"));
  EXPECT_EQ(convert_parameter_value("2.5", &integer_type), Value("2.5"));
  EXPECT_EQ(convert_parameter_value("4.0", &integer_type), Value(4));
  EXPECT_EQ(convert_parameter_value(" 12 ", &integer_type), Value(12));
  EXPECT_EQ(convert_parameter_value("yes", &boolean_type), Value("yes"));
  EXPECT_EQ(convert_parameter_value("false", &boolean_type), Value(false));
  EXPECT_EQ(convert_parameter_value("{'a': 1}", &object_type), Value("{'a': 1}"));
  EXPECT_EQ(convert_parameter_value("[1]", &object_type), Value("[1]"));
  EXPECT_EQ(convert_parameter_value("True", nullptr), Value(true));
}

TEST(OutputParser, RoundTripsRenderedToolCalls) {
  // What the template renders for a call, parsed back, gives the same arguments.
  Result<Value> args = parse_json(
      R"({"x": 3.5, "n": 7, "flags": {"deep": true, "name": "é"}, "items": [1, "two", null],
          "verbose": false, "note": "multi\nline", "maybe": null})");
  ASSERT_TRUE(args.is_ok());
  ChatRequest req;
  req.add_generation_prompt = false;
  req.tools = calc_tools();
  Message user;
  user.role = "user";
  user.content = MessageContent::from_text("calc");
  Message assistant;
  assistant.role = "assistant";
  assistant.reasoning_content = "thinking";
  assistant.content = MessageContent::from_text("Sure.");
  assistant.tool_calls.push_back(ToolCall{"", "calc", *args});
  assistant.tool_calls.push_back(ToolCall{"", "get_weather", *parse_json(R"({"city": "Oslo"})")});
  req.messages = {user, assistant};
  Result<std::string> prompt = make_qwen35_template()->render(req);
  ASSERT_TRUE(prompt.is_ok());
  // The model's part: after the generation prompt's "<think>\n", up to <|im_end|>.
  std::string_view p = *prompt;
  size_t start = p.rfind("<|im_start|>assistant\n<think>\n");
  ASSERT_NE(start, std::string_view::npos);
  start += std::string_view("<|im_start|>assistant\n<think>\n").size();
  std::string generated(p.substr(start, p.rfind("<|im_end|>") - start));

  OutputParserOptions options;
  options.tools = req.tools;
  Collected c = run_whole(generated, options);
  EXPECT_EQ(c.reasoning, "thinking");
  EXPECT_EQ(c.content, "Sure.");
  ASSERT_EQ(c.events.size(), 4u);
  EXPECT_EQ(c.events[2].tool_call.arguments, *args);
  EXPECT_EQ(c.events[3].tool_call.name, "get_weather");
  expect_split_invariant(generated, options);
}

TEST(OutputParser, SplitAtEveryBytePosition) {
  OutputParserOptions on;
  on.tools = calc_tools();
  OutputParserOptions off = on;
  off.reasoning_open = false;
  expect_split_invariant(kThinkingText, on);
  expect_split_invariant(std::string("reasoning é😀 </think>\n\n") + kTwoCalls, on);
  expect_split_invariant(kTwoCalls, off);
  expect_split_invariant("  <think>\nçà\n</think>\n\nDone 🎉 <tool_ca", off);
  expect_split_invariant(
      "a < b </thinker> </think>  x <tool_call> <tool_call>\n<function=calc>\n"
      "<parameter=x>\n1\n</parameter>\n</function>\n</tool_call> tail  ",
      on);
  expect_split_invariant("<tool_call>\n<function=get_weather>\n<parameter=city>\nPar", off);
}

TEST(OutputParser, RandomTagSoupIsSplitInvariant) {
  // Fixed-seed mixtures of tag fragments: no crash, and streaming equals whole-text parsing.
  const char* fragments[] = {"<think>",
                             "</think>",
                             "<tool_call>",
                             "</tool_call>",
                             "<function=f>",
                             "<parameter=a>",
                             "</parameter>",
                             "</function>",
                             "\n",
                             " ",
                             "x",
                             "é",
                             "<",
                             "</",
                             "<tool",
                             "1",
                             "{\"k\": [",
                             "]}"};
  uint32_t state = 12345;
  auto next = [&state]() {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  OutputParserOptions on;
  on.tools = calc_tools();
  OutputParserOptions off = on;
  off.reasoning_open = false;
  for (int iter = 0; iter < 150; ++iter) {
    std::string text;
    int n = static_cast<int>(next() % 24);
    for (int k = 0; k < n; ++k) text += fragments[next() % std::size(fragments)];
    const OutputParserOptions& options = (iter % 2) ? on : off;
    Collected whole = run_whole(text, options);
    std::vector<std::string> bytes;
    for (char c : text) bytes.emplace_back(1, c);
    EXPECT_TRUE(run_pieces(bytes, options) == whole) << text;
    size_t cut = text.empty() ? 0 : next() % text.size();
    EXPECT_TRUE(run_pieces({text.substr(0, cut), text.substr(cut)}, options) == whole) << text;
  }
}

TEST(OutputParser, TruncatedToolCallIsReported) {
  OutputParserOptions options;
  options.reasoning_open = false;
  options.tools = calc_tools();
  const std::string text =
      "Checking.\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\nPar";
  OutputParser parser(options);
  Collected c;
  collect(parser.feed(text), c);
  EXPECT_TRUE(c.errors.empty());  // nothing is reported before the end
  collect(parser.finish(), c);
  EXPECT_EQ(c.content, "Checking.");
  EXPECT_TRUE(c.calls.empty());
  ASSERT_EQ(c.errors.size(), 1u);
  const ParseEvent& e = c.events.back();
  EXPECT_EQ(e.kind, ParseEvent::Kind::kToolCallError);
  EXPECT_TRUE(e.truncated);
  EXPECT_EQ(e.text, text.substr(text.find("<tool_call>")));
  EXPECT_NE(e.error.find("generation stopped inside a tool call"), std::string::npos);
  EXPECT_NE(e.error.find("get_weather"), std::string::npos);
  EXPECT_EQ(e.tool_call.name, "get_weather");
  EXPECT_EQ(to_json(e.tool_call.arguments), R"({"city": "Par"})");
  // Feeding after finish() is ignored.
  EXPECT_TRUE(parser.feed("more").empty());
}

TEST(OutputParser, MalformedToolCallIsReportedNotDropped) {
  OutputParserOptions options;
  options.reasoning_open = false;
  Collected c = run_whole("<tool_call>\n{\"name\": \"f\"}\n</tool_call>after", options);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_NE(c.errors[0].find("malformed tool call: tool call has no <function=NAME> tag"),
            std::string::npos);
  EXPECT_NE(c.errors[0].find("<tool_call>\n{\"name\": \"f\"}\n</tool_call>"), std::string::npos);
  EXPECT_EQ(c.content, "after");
}

TEST(OutputParser, MissingClosingTagsAreTolerated) {
  Result<ParsedToolCall> call = parse_tool_call_body(
      "\n<function=f>\n<parameter=a>\n1\n<parameter=b>\ntwo\n</function>\n", Value());
  ASSERT_TRUE(call.is_ok());
  EXPECT_EQ(call->name, "f");
  EXPECT_EQ(to_json(call->arguments), R"({"a": 1, "b": "two"})");
  EXPECT_FALSE(parse_tool_call_body("<function=>\n</function>", Value()).is_ok());
  EXPECT_FALSE(parse_tool_call_body("<function=f", Value()).is_ok());
}

TEST(OutputParser, OptionsFollowTheRequest) {
  ChatRequest req;
  req.tools = calc_tools();
  EXPECT_TRUE(output_parser_options_for(req).reasoning_open);
  EXPECT_EQ(output_parser_options_for(req).tools, req.tools);
  req.enable_thinking = false;
  EXPECT_FALSE(output_parser_options_for(req).reasoning_open);
}

TEST(OutputParser, ParseOutputConvenience) {
  ParsedOutput out = parse_output(std::string("r\n</think>\n\n") + kTwoCalls);
  EXPECT_EQ(out.reasoning, "r");
  EXPECT_EQ(out.content, "Let me check both.");
  ASSERT_EQ(out.tool_calls.size(), 2u);
  EXPECT_EQ(out.tool_calls[1].name, "get_weather");
  EXPECT_TRUE(out.errors.empty());
}

}  // namespace
}  // namespace hearth::chat
