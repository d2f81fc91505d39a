// Qwen3.5 renderer edge cases beyond the official 25 (expected strings rendered with the official
// template under Python Jinja2, configured like transformers), and template identification.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "chat/chat_template.h"

namespace hearth::chat {
namespace {

Message text_message(std::string role, std::string content) {
  Message m;
  m.role = std::move(role);
  m.content = MessageContent::from_text(std::move(content));
  return m;
}

Message assistant_call(std::string content, std::string name, Value arguments) {
  Message m = text_message("assistant", std::move(content));
  ToolCall call;
  call.name = std::move(name);
  call.arguments = std::move(arguments);
  m.tool_calls.push_back(std::move(call));
  return m;
}

std::string render_ok(const ChatRequest& request) {
  Result<std::string> r = make_qwen35_template()->render(request);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? *r : std::string();
}

std::string read_shared(const std::string& rel) {
  std::ifstream in(std::string(HEARTH_SHARED_DIR) + "/" + rel, std::ios::binary);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Qwen35Template, TrimIsPythonStrip) {
  ChatRequest req;
  req.messages.push_back(text_message("user", "\u3000\u00a0 hi\x1c \u2029"));
  EXPECT_EQ(render_ok(req), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n");
}

TEST(Qwen35Template, LeadingToolMessageHasNoHeader) {
  ChatRequest req;
  req.messages.push_back(text_message("tool", " r0 "));
  req.messages.push_back(text_message("user", "q"));
  EXPECT_EQ(render_ok(req),
            "\n<tool_response>\nr0\n</tool_response><|im_end|>\n<|im_start|>user\nq<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n");
}

TEST(Qwen35Template, SeveralThinkBlocksInContent) {
  ChatRequest req;
  req.add_generation_prompt = false;
  req.messages.push_back(text_message("user", "q"));
  req.messages.push_back(
      text_message("assistant", "<think>a</think>mid<think>\n\nb\n\n</think>\n\nfinal"));
  EXPECT_EQ(render_ok(req),
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\na\n</think>\n\n"
            "final<|im_end|>\n");
}

TEST(Qwen35Template, ReasoningContentLeavesContentAsIs) {
  ChatRequest req;
  req.add_generation_prompt = false;
  req.messages.push_back(text_message("user", "q"));
  Message a = text_message("assistant", "<think>in</think>out");
  a.reasoning_content = "given";
  req.messages.push_back(a);
  EXPECT_EQ(render_ok(req),
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\ngiven\n</think>\n\n"
            "<think>in</think>out<|im_end|>\n");
}

TEST(Qwen35Template, ToolLoopAfterLastQuery) {
  ChatRequest req;
  req.enable_thinking = false;
  req.tools = Value::array();  // empty list: no tools block
  req.messages.push_back(text_message("user", "old"));
  req.messages.push_back(text_message("assistant", "<think>x</think>old answer"));
  req.messages.push_back(text_message("user", "q"));
  Value args = Value::object();
  args.set("a", 1);
  req.messages.push_back(assistant_call("", "f", args));
  req.messages.push_back(text_message("tool", "r1"));
  // A user turn that only wraps a tool response is not a query.
  req.messages.push_back(text_message("user", "<tool_response>\nextra\n</tool_response>"));
  Message second = assistant_call("  ", "g", Value::object());
  second.reasoning_content = "  second  ";
  req.messages.push_back(second);
  req.messages.push_back(text_message("tool", "r2"));
  EXPECT_EQ(render_ok(req),
            "<|im_start|>user\nold<|im_end|>\n<|im_start|>assistant\nold answer<|im_end|>\n"
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
            "<tool_call>\n<function=f>\n<parameter=a>\n1\n</parameter>\n</function>\n</tool_call>"
            "<|im_end|>\n<|im_start|>user\n<tool_response>\nr1\n</tool_response><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nextra\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n<think>\nsecond\n</think>\n\n<tool_call>\n<function=g>\n"
            "</function>\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\nr2\n"
            "</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(Qwen35Template, Errors) {
  auto tmpl = make_qwen35_template();
  ChatRequest req;
  Result<std::string> r = tmpl->render(req);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("No messages provided."), std::string::npos);

  // System content may not hold a video (checked with and without tools).
  for (bool with_tools : {false, true}) {
    ChatRequest sys;
    if (with_tools) sys.tools = Value(Value::Array{Value::object()});
    Message s;
    s.role = "system";
    s.content = MessageContent::from_parts({ContentPart{ContentPart::Kind::kVideo, ""}});
    sys.messages.push_back(s);
    sys.messages.push_back(text_message("user", "hi"));
    r = tmpl->render(sys);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("System message cannot contain videos."),
              std::string::npos);
  }

  ChatRequest only_tool_responses;
  only_tool_responses.messages.push_back(text_message("tool", "x"));
  only_tool_responses.messages.push_back(
      text_message("user", " <tool_response>y</tool_response> "));
  r = tmpl->render(only_tool_responses);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("No user query found in messages."), std::string::npos);

  ChatRequest bad_args;
  bad_args.messages.push_back(text_message("user", "q"));
  bad_args.messages.push_back(assistant_call("", "f", Value()));
  r = tmpl->render(bad_args);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("Can only get item pairs from a mapping."),
            std::string::npos);
  EXPECT_NE(r.status().message().find("messages[1]"), std::string::npos);
}

TEST(Qwen35Template, RecognisesOfficialTemplate) {
  std::string official = read_shared("testdata/tokenizer/qwen3.5/chat_template.jinja");
  ASSERT_FALSE(official.empty());
  EXPECT_EQ(qwen35_template_text(), official);
  EXPECT_TRUE(is_qwen35_template(official));
  // Layout changes that do not change the rendering.
  std::string crlf;
  for (char c : official) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  EXPECT_TRUE(is_qwen35_template(crlf));
  EXPECT_TRUE(is_qwen35_template("\n" + official + "\n\n"));
  std::string reindented;
  for (char c : official) {
    reindented += c;
    if (c == '\n') reindented += "\t  ";
  }
  EXPECT_TRUE(is_qwen35_template(reindented));

  // Real changes.
  std::string changed = official;
  changed.replace(changed.find("You have access"), 15, "You can use all");
  EXPECT_FALSE(is_qwen35_template(changed));
  std::string fewer_spaces = official;
  fewer_spaces.replace(fewer_spaces.find("You have access"), 15, "You  have access");
  EXPECT_FALSE(is_qwen35_template(fewer_spaces));
  EXPECT_FALSE(is_qwen35_template(""));
  EXPECT_FALSE(is_qwen35_template(read_shared("testdata/tokenizer/qwen3/chat_template.jinja")));
}

TEST(Qwen35Template, ChooseTemplate) {
  std::string official = read_shared("testdata/tokenizer/qwen3.5/chat_template.jinja");
  TemplateChoice same = choose_chat_template(official);
  ASSERT_NE(same.chat_template, nullptr);
  EXPECT_TRUE(same.matches_model);
  EXPECT_EQ(same.chat_template->name(), "qwen3.5");
  TemplateChoice absent = choose_chat_template("");
  EXPECT_TRUE(absent.matches_model);
  TemplateChoice other =
      choose_chat_template(read_shared("testdata/tokenizer/qwen3/chat_template.jinja"));
  ASSERT_NE(other.chat_template, nullptr);
  EXPECT_FALSE(other.matches_model);
  EXPECT_NE(other.note.find("differs from the official Qwen3.5 template"), std::string::npos);
}

}  // namespace
}  // namespace hearth::chat
