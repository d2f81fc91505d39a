// api::parse_chat_request: OpenAI request bodies -> chat::ChatRequest, and the field-naming
// errors for bad JSON and bad shapes.
#include <gtest/gtest.h>

#include <string>

#include "api/chat_request.h"
#include "api/json_value.h"
#include "chat/chat_template.h"

namespace hearth {
namespace {

std::string error_of(std::string_view body) {
  Result<chat::ChatRequest> r = api::parse_chat_request(body);
  EXPECT_FALSE(r.is_ok()) << "expected an error for: " << body;
  if (r.is_ok()) return "";
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  return r.status().message();
}

TEST(ChatRequest, ParsesOpenAiRequest) {
  const char* body = R"({
    "model": "qwen3.5", "temperature": 0.7,
    "messages": [
      {"role": "developer", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Weather"}, {"type": "text", "text": " in Paris?"}]},
      {"role": "assistant", "content": null, "reasoning_content": "call it",
       "tool_calls": [{"id": "call_1", "type": "function",
                       "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"days\": 2}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "sunny"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "chat_template_kwargs": {"enable_thinking": false}
  })";
  Result<chat::ChatRequest> r = api::parse_chat_request(body);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const chat::ChatRequest& req = *r;
  ASSERT_EQ(req.messages.size(), 4u);
  EXPECT_EQ(req.messages[0].role, "system");
  EXPECT_EQ(req.messages[1].content.kind, chat::MessageContent::Kind::kParts);
  ASSERT_EQ(req.messages[1].content.parts.size(), 2u);
  EXPECT_EQ(req.messages[1].content.parts[1].text, " in Paris?");
  EXPECT_EQ(req.messages[2].content.kind, chat::MessageContent::Kind::kNone);
  EXPECT_EQ(req.messages[2].reasoning_content.value_or(""), "call it");
  ASSERT_EQ(req.messages[2].tool_calls.size(), 1u);
  const chat::ToolCall& call = req.messages[2].tool_calls[0];
  EXPECT_EQ(call.id, "call_1");
  EXPECT_EQ(call.name, "get_weather");
  ASSERT_TRUE(call.arguments.is_object());
  ASSERT_EQ(call.arguments.as_object().size(), 2u);
  EXPECT_EQ(call.arguments.as_object()[0].first, "city");  // order kept
  EXPECT_EQ(*call.arguments.find("days"), chat::Value(2));
  EXPECT_EQ(req.messages[3].tool_call_id, "call_1");
  EXPECT_EQ(req.messages[3].name, "get_weather");
  EXPECT_TRUE(req.tools.is_array());
  EXPECT_FALSE(req.enable_thinking);
  EXPECT_TRUE(req.add_generation_prompt);  // default

  Result<std::string> prompt = chat::make_qwen35_template()->render(req);
  ASSERT_TRUE(prompt.is_ok()) << prompt.status().message();
  EXPECT_NE(prompt->find("\n\nBe brief.<|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>"),
            std::string::npos);
  EXPECT_NE(prompt->find("<think>\ncall it\n</think>\n\n<tool_call>\n<function=get_weather>\n"
                         "<parameter=city>\nParis\n</parameter>\n<parameter=days>\n2\n"
                         "</parameter>\n</function>\n</tool_call><|im_end|>\n"),
            std::string::npos);
  EXPECT_TRUE(
      prompt->ends_with("<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n"
                        "<|im_start|>assistant\n<think>\n\n</think>\n\n"));
}

TEST(ChatRequest, Defaults) {
  Result<chat::ChatRequest> r =
      api::parse_chat_request(R"({"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->enable_thinking);
  EXPECT_TRUE(r->add_generation_prompt);
  EXPECT_FALSE(r->add_vision_id);
  EXPECT_TRUE(r->tools.is_null());
  EXPECT_EQ(r->messages[0].content.text, "hi");
}

TEST(ChatRequest, GenerationPromptAndThinkingSwitches) {
  auto r = api::parse_chat_request(
      R"({"messages":[{"role":"user","content":"hi"}],"add_generation_prompt":false,
          "reasoning_effort":"none"})");
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->add_generation_prompt);
  EXPECT_FALSE(r->enable_thinking);
  // An explicit template kwarg wins over reasoning_effort.
  r = api::parse_chat_request(
      R"({"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"none",
          "chat_template_kwargs":{"enable_thinking":true,"add_vision_id":true}})");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->enable_thinking);
  EXPECT_TRUE(r->add_vision_id);
}

TEST(ChatRequest, ArgumentsForms) {
  // Object form, empty string (no-argument call) and missing arguments.
  auto r = api::parse_chat_request(R"({"messages":[{"role":"user","content":"x"},
      {"role":"assistant","tool_calls":[
        {"function":{"name":"a","arguments":{"k":[1,2.5,true,null]}}},
        {"function":{"name":"b","arguments":""}},
        {"name":"c"}]}]})");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const auto& calls = r->messages[1].tool_calls;
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(chat::to_json(calls[0].arguments), R"({"k": [1, 2.5, true, null]})");
  EXPECT_EQ(calls[1].arguments, chat::Value::object());
  EXPECT_EQ(calls[2].name, "c");
  EXPECT_EQ(calls[2].arguments, chat::Value::object());
}

TEST(ChatRequest, Errors) {
  EXPECT_NE(error_of("{not json").find("request body is not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("").find("not valid JSON"), std::string::npos);
  EXPECT_EQ(error_of("[1,2]"), "request body must be a JSON object");
  EXPECT_EQ(error_of("{}"), "messages is required");
  EXPECT_EQ(error_of(R"({"messages":{}})"), "messages must be an array");
  EXPECT_EQ(error_of(R"({"messages":["hi"]})"), "messages[0] must be an object");
  EXPECT_EQ(error_of(R"({"messages":[{"content":"hi"}]})"), "messages[0].role must be a string");
  EXPECT_EQ(
      error_of(R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},
                                     {"role":"user","content":42}]})"),
      "messages[2].content must be a string or an array of text parts");
  EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":[{"type":"text","text":1}]}]})"),
            "messages[0].content[0].text must be a string");
  EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":["plain"]}]})"),
            "messages[0].content[0] must be an object (a content part)");
  EXPECT_NE(error_of(R"({"messages":[{"role":"user","content":[{"type":"input_audio"}]}]})")
                .find("messages[0].content[0] has unsupported type 'input_audio'"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"messages":[{"role":"assistant","reasoning_content":5}]})"),
            "messages[0].reasoning_content must be a string");
  EXPECT_EQ(error_of(R"({"messages":[{"role":"assistant","tool_calls":{}}]})"),
            "messages[0].tool_calls must be an array");
  EXPECT_EQ(
      error_of(
          R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"arguments":"{}"}}]}]})"),
      "messages[0].tool_calls[0].function.name must be a string");
  EXPECT_NE(
      error_of(
          R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{bad"}}]}]})")
          .find("messages[0].tool_calls[0].function.arguments is not valid JSON"),
      std::string::npos);
  EXPECT_EQ(
      error_of(
          R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"[1]"}}]}]})"),
      "messages[0].tool_calls[0].function.arguments must encode a JSON object");
  EXPECT_EQ(
      error_of(
          R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":3}}]}]})"),
      "messages[0].tool_calls[0].function.arguments must be an object or a JSON string");
  EXPECT_EQ(error_of(R"({"messages":[{"role":"tool","tool_call_id":7}]})"),
            "messages[0].tool_call_id must be a string");
  EXPECT_EQ(error_of(R"({"messages":[],"tools":{"type":"function"}})"), "tools must be an array");
  EXPECT_EQ(error_of(R"({"messages":[],"tools":["f"]})"), "tools[0] must be an object");
  EXPECT_EQ(error_of(R"({"messages":[],"add_generation_prompt":"yes"})"),
            "add_generation_prompt must be a boolean");
  EXPECT_EQ(error_of(R"({"messages":[],"chat_template_kwargs":[]})"),
            "chat_template_kwargs must be an object");
  EXPECT_EQ(error_of(R"({"messages":[],"chat_template_kwargs":{"enable_thinking":"false"}})"),
            "chat_template_kwargs.enable_thinking must be a boolean");
  EXPECT_EQ(error_of(R"({"messages":[],"reasoning_effort":0})"),
            "reasoning_effort must be a string");
}

TEST(ChatRequest, ValueJsonRoundTrip) {
  api::Json j =
      api::Json::parse(R"({"z":1,"a":[true,null,-2.5,"é"],"m":{"k":18446744073709551615}})");
  chat::Value v = api::value_from_json(j);
  EXPECT_EQ(v.as_object()[0].first, "z");
  EXPECT_TRUE(v.find("m")->find("k")->is_double());  // above INT64_MAX
  api::Json back = api::value_to_json(v);
  EXPECT_EQ(back["a"], j["a"]);
  EXPECT_EQ(back.begin().key(), "z");
  EXPECT_EQ(chat::to_json(v),
            R"({"z": 1, "a": [true, null, -2.5, "é"], "m": {"k": 1.8446744073709552e+19}})");
}

}  // namespace
}  // namespace hearth
