// Unit tests of the server pieces that need no model: response building from scripted model
// output (tool calls, reasoning), keep-alive and host parsing.
#include <gtest/gtest.h>

#include "server/chat_output.h"
#include "server/model_manager.h"
#include "server/server.h"

namespace hearth::server {
namespace {

using api::Json;

chat::Value weather_tools() {
  Json tools = Json::parse(R"([{"type":"function","function":{"name":"get_weather",
      "parameters":{"type":"object","properties":{"city":{"type":"string"},
      "days":{"type":"integer"}}}}}])");
  return api::value_from_json(tools);
}

// The text a Qwen3.5 model produces for a thinking turn that ends in a tool call, fed in awkward
// pieces (tags split across feeds), as the engine would release it token by token.
TEST(ChoiceOutput, ReasoningAndToolCallBecomeOpenAIToolCalls) {
  chat::OutputParserOptions opts;
  opts.reasoning_open = true;
  opts.tools = weather_tools();
  ChoiceOutput out(opts);
  std::string text =
      "I should check the weather.\n</think>\n\n<tool_call>\n<function=get_weather>\n"
      "<parameter=city>\nParis\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n"
      "</tool_call>";
  ChoiceDelta all;
  for (size_t i = 0; i < text.size(); i += 5) {
    ChoiceDelta d = out.feed(text.substr(i, 5));
    all.reasoning += d.reasoning;
    all.content += d.content;
    for (auto& c : d.tool_calls) all.tool_calls.push_back(c);
  }
  ChoiceDelta d = out.finish();
  for (auto& c : d.tool_calls) all.tool_calls.push_back(c);
  all.content += d.content;

  EXPECT_EQ(out.reasoning(), "I should check the weather.");
  EXPECT_EQ(out.content(), "");
  ASSERT_EQ(out.tool_calls().size(), 1u);
  ASSERT_EQ(all.tool_calls.size(), 1u);
  const ToolCallOut& call = out.tool_calls()[0];
  EXPECT_EQ(call.name, "get_weather");
  EXPECT_EQ(call.id.rfind("call_", 0), 0u);
  EXPECT_EQ(call.id.size(), 5u + 24u);
  Json args = Json::parse(call.arguments_json);
  EXPECT_EQ(args["city"], "Paris");
  EXPECT_EQ(args["days"], 3);  // typed by the schema: integer

  Json msg = openai_message(out);
  EXPECT_EQ(msg["role"], "assistant");
  EXPECT_TRUE(msg["content"].is_null());  // only tool calls
  EXPECT_EQ(msg["reasoning_content"], "I should check the weather.");
  EXPECT_EQ(msg["reasoning"], "I should check the weather.");
  ASSERT_EQ(msg["tool_calls"].size(), 1u);
  EXPECT_EQ(msg["tool_calls"][0]["type"], "function");
  EXPECT_EQ(msg["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_TRUE(msg["tool_calls"][0]["function"]["arguments"].is_string());
  EXPECT_EQ(openai_finish_reason("stop", true), "tool_calls");
  EXPECT_EQ(openai_finish_reason("length", true), "length");
  EXPECT_EQ(openai_finish_reason("stop", false), "stop");

  Json delta = openai_delta(all, 2);
  EXPECT_EQ(delta["tool_calls"][0]["index"], 2);
  EXPECT_EQ(delta["tool_calls"][0]["id"], call.id);

  Json ollama = ollama_message(out.reasoning(), out.content(), out.tool_calls());
  EXPECT_EQ(ollama["thinking"], "I should check the weather.");
  EXPECT_TRUE(ollama["tool_calls"][0]["function"]["arguments"].is_object());  // Ollama: object
  EXPECT_EQ(ollama["tool_calls"][0]["function"]["arguments"]["days"], 3);
}

TEST(ChoiceOutput, ThinkingOffGivesPlainContent) {
  chat::OutputParserOptions opts;
  opts.reasoning_open = false;
  ChoiceOutput out(opts);
  (void)out.feed("Hello ");
  (void)out.feed("world");
  (void)out.finish();
  EXPECT_EQ(out.content(), "Hello world");
  EXPECT_EQ(out.reasoning(), "");
  Json msg = openai_message(out);
  EXPECT_EQ(msg["content"], "Hello world");
  EXPECT_FALSE(msg.contains("reasoning_content"));
  EXPECT_FALSE(msg.contains("tool_calls"));
}

TEST(ChoiceOutput, CutOffToolCallIsReturnedAsText) {
  chat::OutputParserOptions opts;
  opts.reasoning_open = false;
  ChoiceOutput out(opts);
  (void)out.feed("<tool_call>\n<function=f>\n<parameter=a>\n1");
  (void)out.finish();
  EXPECT_TRUE(out.tool_calls().empty());
  EXPECT_NE(out.content().find("<function=f>"), std::string::npos);
}

TEST(ChoiceOutput, InvalidUtf8NeverThrowsWhenDumped) {
  Json j = {{"content", std::string("a\xff\xfe")}};
  std::string s = dump_json(j);
  EXPECT_NE(s.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

TEST(KeepAlive, Forms) {
  EXPECT_EQ(parse_keep_alive("5m").value().count(), 300000);
  EXPECT_EQ(parse_keep_alive("1h30m").value().count(), 5400000);
  EXPECT_EQ(parse_keep_alive("250ms").value().count(), 250);
  EXPECT_EQ(parse_keep_alive("10").value().count(), 10000);
  EXPECT_EQ(parse_keep_alive("0").value().count(), 0);
  EXPECT_LT(parse_keep_alive("-1").value().count(), 0);
  EXPECT_LT(parse_keep_alive("-1m").value().count(), 0);
  EXPECT_FALSE(parse_keep_alive("").is_ok());
  EXPECT_FALSE(parse_keep_alive("5x").is_ok());
  EXPECT_FALSE(parse_keep_alive("m").is_ok());
  EXPECT_FALSE(parse_keep_alive("5m3").is_ok());
}

TEST(HostPort, Forms) {
  std::string host = "127.0.0.1";
  int port = 11434;
  ASSERT_TRUE(parse_host_port("0.0.0.0:8080", &host, &port).is_ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 8080);
  port = 11434;
  ASSERT_TRUE(parse_host_port("example.local", &host, &port).is_ok());
  EXPECT_EQ(host, "example.local");
  EXPECT_EQ(port, 11434);
  ASSERT_TRUE(parse_host_port("http://localhost:9000/", &host, &port).is_ok());
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 9000);
  ASSERT_TRUE(parse_host_port(":7000", &host, &port).is_ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 7000);
  EXPECT_FALSE(parse_host_port("h:99999", &host, &port).is_ok());
  EXPECT_FALSE(parse_host_port("h:abc", &host, &port).is_ok());
}

}  // namespace
}  // namespace hearth::server
