// The 25 official renderings of the Qwen3.5 chat template (chat_render_cases.json, produced with
// Python Jinja2 the way transformers configures it), rendered through api::chat_request_from_json
// and the native Qwen3.5 renderer, compared byte for byte (or by the template's error message).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "api/json_value.h"
#include "chat/chat_template.h"

namespace hearth {
namespace {

using api::Json;

Json load_cases() {
  std::ifstream in(std::string(HEARTH_SHARED_DIR) +
                   "/testdata/tokenizer/qwen3.5/chat_render_cases.json");
  EXPECT_TRUE(in.good()) << "cannot open chat_render_cases.json under " << HEARTH_SHARED_DIR;
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

// A case's messages and template kwargs as an OpenAI-style request body.
Json case_to_request(const Json& c) {
  Json body = Json::object();
  body["messages"] = c.at("messages");
  const Json& kwargs = c.at("kwargs");
  if (kwargs.contains("tools")) body["tools"] = kwargs.at("tools");
  // The template treats an undefined add_generation_prompt as false.
  body["add_generation_prompt"] = kwargs.value("add_generation_prompt", false);
  Json template_kwargs = Json::object();
  for (const char* key : {"enable_thinking", "add_vision_id"}) {
    if (kwargs.contains(key)) template_kwargs[key] = kwargs.at(key);
  }
  body["chat_template_kwargs"] = template_kwargs;
  return body;
}

TEST(ChatRenderCases, AllOfficialCasesMatch) {
  Json doc = load_cases();
  const Json& cases = doc.at("cases");
  ASSERT_EQ(cases.size(), 25u);
  auto tmpl = chat::make_qwen35_template();
  int rendered = 0, errors = 0;
  for (const Json& c : cases) {
    std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    // Exact template semantics: an OpenAI JSON-string `arguments` is kept as a string.
    api::ChatRequestParseOptions options;
    options.decode_string_arguments = false;
    Result<chat::ChatRequest> request = api::chat_request_from_json(case_to_request(c), options);
    ASSERT_TRUE(request.is_ok()) << request.status().message();
    Result<std::string> prompt = tmpl->render(*request);
    if (c.contains("error")) {
      ASSERT_FALSE(prompt.is_ok()) << "expected error, got: " << *prompt;
      EXPECT_NE(prompt.status().message().find(c.at("error").get<std::string>()), std::string::npos)
          << prompt.status().message();
      EXPECT_EQ(prompt.status().code(), ErrorCode::kInvalidArgument);
      ++errors;
    } else {
      ASSERT_TRUE(prompt.is_ok()) << prompt.status().message();
      EXPECT_EQ(*prompt, c.at("rendered").get<std::string>());
      ++rendered;
    }
  }
  EXPECT_EQ(rendered + errors, 25);
  EXPECT_GE(errors, 5);
}

// The official case with a JSON-string `arguments` fails in the template; the API decodes the
// string by default, and the result equals the rendering of the same call given as an object.
TEST(ChatRenderCases, StringArgumentsAreDecodedByDefault) {
  Json doc = load_cases();
  const Json* string_case = nullptr;
  for (const Json& c : doc.at("cases")) {
    if (c.at("name") == "tool_call_arguments_as_json_string_NOT_expanded") string_case = &c;
  }
  ASSERT_NE(string_case, nullptr);
  Json body = case_to_request(*string_case);
  Result<chat::ChatRequest> decoded = api::chat_request_from_json(body);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().message();

  Json as_object = body;
  Json& fn = as_object["messages"][1]["tool_calls"][0]["function"];
  fn["arguments"] = Json::parse(fn["arguments"].get<std::string>());
  Result<chat::ChatRequest> object_form = api::chat_request_from_json(as_object);
  ASSERT_TRUE(object_form.is_ok());

  auto tmpl = chat::make_qwen35_template();
  Result<std::string> a = tmpl->render(*decoded);
  Result<std::string> b = tmpl->render(*object_form);
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(a->find("<parameter=city>\nParis\n</parameter>"), std::string::npos);
}

// The Qwen3.8 oracle's "thinking_disabled" prompt has no Qwen3.8-only system line, so it is also
// exactly what the Qwen3.5 template produces.
TEST(ChatRenderCases, OracleThinkingDisabledPrompt) {
  std::ifstream in(std::string(HEARTH_SHARED_DIR) +
                   "/testdata/tokenizer/qwen3.5/token_vectors_qwen3.8_oracle.json");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  Json doc = Json::parse(ss.str());
  std::string expected;
  for (const Json& v : doc.at("chat_vectors_tokenization_only")) {
    if (v.at("name") == "thinking_disabled") expected = v.at("rendered_text").get<std::string>();
  }
  ASSERT_FALSE(expected.empty());
  Result<chat::ChatRequest> request = api::parse_chat_request(
      R"({"messages":[{"role":"user","content":"Return 2 + 2."}],
          "chat_template_kwargs":{"enable_thinking":false}})");
  ASSERT_TRUE(request.is_ok());
  Result<std::string> prompt = chat::make_qwen35_template()->render(*request);
  ASSERT_TRUE(prompt.is_ok());
  EXPECT_EQ(*prompt, expected);
}

}  // namespace
}  // namespace hearth
