// Unit tests of the server pieces that need no model: response building from scripted model
// output (tool calls, reasoning), keep-alive and host parsing.
#include <gtest/gtest.h>

#include <cmath>

#include "server/chat_output.h"
#include "server/model_manager.h"
#include "server/server.h"
#include "server/tool_choice.h"
#include "tokenizer/tokenizer.h"

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

// ---------------------------------------------------------------- tool_choice

TEST(ToolChoice, ParsesEveryFormAndRejectsBadOnes) {
  const std::vector<std::string> names = {"get_weather", "get_time"};
  auto mode = [&](const Json& j) {
    auto r = parse_tool_choice(&j, names);
    EXPECT_TRUE(r.is_ok()) << j.dump() << ": " << r.status().to_string();
    return r.is_ok() ? r.value().mode : ToolChoice::Mode::kAuto;
  };
  EXPECT_TRUE(parse_tool_choice(nullptr, {}).is_ok());
  EXPECT_EQ(parse_tool_choice(nullptr, {}).value().mode, ToolChoice::Mode::kAuto);
  EXPECT_EQ(mode(Json("auto")), ToolChoice::Mode::kAuto);
  EXPECT_EQ(mode(Json("none")), ToolChoice::Mode::kNone);
  EXPECT_EQ(mode(Json("required")), ToolChoice::Mode::kRequired);
  Json named = Json::parse(R"({"type":"function","function":{"name":"get_time"}})");
  auto r = parse_tool_choice(&named, names);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value().mode, ToolChoice::Mode::kFunction);
  EXPECT_EQ(r.value().function, "get_time");

  for (const char* bad : {R"("sometimes")", R"(3)", R"({"type":"function"})",
                          R"({"type":"tool","function":{"name":"get_time"}})",
                          R"({"type":"function","function":{"name":"launch_rocket"}})",
                          R"({"type":"function","function":{"name":""}})"}) {
    Json j = Json::parse(bad);
    auto b = parse_tool_choice(&j, names);
    EXPECT_FALSE(b.is_ok()) << bad;
    EXPECT_EQ(b.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
  Json required("required");
  EXPECT_FALSE(parse_tool_choice(&required, {}).is_ok()) << "required without tools";
  EXPECT_TRUE(parse_tool_choice(&required, names).is_ok());
}

TEST(ToolChoice, FunctionNamesOfTools) {
  Json tools = Json::parse(R"([{"type":"function","function":{"name":"a"}},
      {"type":"function","function":{"description":"no name"}}, 7,
      {"type":"function","function":{"name":"b"}}])");
  EXPECT_EQ(tool_function_names(&tools), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(tool_function_names(nullptr).empty());
}

TEST(ToolChoice, ForcedPrefixForcesThenFrees) {
  ForcedPrefixConstraint c({5, 9, 5}, {}, {});
  for (int32_t want : {5, 9, 5}) {
    EXPECT_FALSE(c.done());
    for (int32_t t = 0; t < 12; ++t) EXPECT_EQ(c.allows(t), t == want) << t;
    c.accept(want);
  }
  EXPECT_TRUE(c.done());
  for (int32_t t = 0; t < 12; ++t) EXPECT_TRUE(c.allows(t));
}

TEST(ToolChoice, ForcedPrefixWaitsForThinkEndAndBansEndMeanwhile) {
  const int32_t think_end = 3, eos = 7;
  ForcedPrefixConstraint c({4}, {think_end}, {eos});
  for (int32_t reasoning : {1, 2, 4, 1}) {
    EXPECT_FALSE(c.allows(eos));
    EXPECT_TRUE(c.allows(reasoning));
    c.accept(reasoning);
  }
  EXPECT_TRUE(c.allows(think_end));
  c.accept(think_end);
  EXPECT_FALSE(c.allows(1));
  EXPECT_FALSE(c.allows(eos));
  EXPECT_TRUE(c.allows(4));
  c.accept(4);
  EXPECT_TRUE(c.done());
  EXPECT_TRUE(c.allows(eos));
}

TEST(ToolChoice, BanAndAllOf) {
  BanTokensConstraint ban({8, 2});
  EXPECT_FALSE(ban.allows(2));
  EXPECT_FALSE(ban.allows(8));
  EXPECT_TRUE(ban.allows(3));
  ConstraintFactory a = [] {
    return std::make_unique<BanTokensConstraint>(std::vector<int32_t>{1});
  };
  ConstraintFactory b = [] {
    return std::make_unique<ForcedPrefixConstraint>(std::vector<int32_t>{1, 2},
                                                    std::vector<int32_t>{}, std::vector<int32_t>{});
  };
  EXPECT_FALSE(combine_constraints(nullptr, nullptr));
  EXPECT_TRUE(combine_constraints(a, nullptr));
  auto both = combine_constraints(a, b)();
  EXPECT_FALSE(both->allows(1));  // forced but banned: nothing allowed
  EXPECT_FALSE(both->allows(2));
  auto only_b = combine_constraints(nullptr, b)();
  EXPECT_TRUE(only_b->allows(1));
  only_b->accept(1);
  EXPECT_TRUE(only_b->allows(2));
}

// The fast mask_logits() overrides must forbid exactly the tokens allows() forbids, at every step
// of a forced sequence (waiting, forcing, free) and through AllOf.
TEST(ToolChoice, MaskLogitsAgreesWithAllows) {
  constexpr int32_t kVocab = 16;
  auto check = [](const sampling::TokenConstraint& c, const char* where) {
    std::vector<float> logits(kVocab, 1.0f);
    c.mask_logits(logits.data(), kVocab);
    for (int32_t t = 0; t < kVocab; ++t)
      EXPECT_EQ(c.allows(t), std::isfinite(logits[t])) << where << " token " << t;
  };
  BanTokensConstraint ban({3, 15, 99});  // 99: outside the vocabulary, must be ignored
  check(ban, "ban");
  ForcedPrefixConstraint forced({4, 5}, {7}, {0, 1});
  std::vector<std::unique_ptr<sampling::TokenConstraint>> parts;
  parts.push_back(std::make_unique<BanTokensConstraint>(std::vector<int32_t>{5, 9}));
  parts.push_back(std::make_unique<ForcedPrefixConstraint>(std::vector<int32_t>{4, 5},
                                                           std::vector<int32_t>{7},
                                                           std::vector<int32_t>{0, 1}));
  AllOfConstraint all(std::move(parts));
  for (int32_t t : {2, 7, 4, 5, 6}) {  // wait, see </think>=7, forced 4 5, then free
    check(forced, "forced");
    check(all, "allof");
    forced.accept(t);
    all.accept(t);
  }
}

// A vocabulary without a </think> token: the forcing starts after its multi-token spelling.
TEST(ToolChoice, ForcedPrefixWaitsForATokenSequence) {
  ForcedPrefixConstraint c({9}, {1, 2, 3}, {});
  for (int32_t t : {1, 2, 5, 1, 2}) {
    EXPECT_TRUE(c.allows(5));
    c.accept(t);
  }
  EXPECT_TRUE(c.allows(5)) << "1 2 is not the whole sequence";
  c.accept(3);
  EXPECT_FALSE(c.allows(5));
  EXPECT_TRUE(c.allows(9));
}

// With the real Qwen vocabulary: <tool_call> and </think> are single added tokens.
TEST(ToolChoice, ConstraintsWithTheQwenVocabulary) {
  auto tok = tokenizer::Tokenizer::from_file(std::string(HEARTH_SHARED_DIR) +
                                             "/testdata/tokenizer/qwen3/tokenizer.json");
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  const auto& ids = tok->special_ids();
  ASSERT_GE(ids.tool_call, 0);
  ASSERT_GE(ids.think_end, 0);
  ASSERT_GE(ids.im_end, 0);

  auto none = tool_choice_constraint({ToolChoice::Mode::kNone, ""}, *tok, false);
  ASSERT_TRUE(none.is_ok());
  auto ban = none.value()();
  EXPECT_FALSE(ban->allows(ids.tool_call));
  EXPECT_TRUE(ban->allows(ids.im_end));
  EXPECT_TRUE(ban->allows(ids.think_end));

  auto automatic = tool_choice_constraint({}, *tok, true);
  ASSERT_TRUE(automatic.is_ok());
  EXPECT_FALSE(automatic.value());

  // Required, thinking off: <tool_call> first, then "\n<function=" token by token, then free.
  auto required = tool_choice_constraint({ToolChoice::Mode::kRequired, ""}, *tok, false);
  ASSERT_TRUE(required.is_ok());
  auto c = required.value()();
  auto want = tok->encode("<tool_call>\n<function=", true);
  ASSERT_TRUE(want.is_ok());
  EXPECT_EQ(want.value().front(), ids.tool_call);
  for (int32_t t : want.value()) {
    EXPECT_TRUE(c->allows(t));
    EXPECT_FALSE(c->allows(ids.im_end));
    c->accept(t);
  }
  EXPECT_TRUE(c->allows(ids.im_end));

  // Named function, thinking on: free reasoning (but no end) until </think>, then the call.
  auto named = tool_choice_constraint({ToolChoice::Mode::kFunction, "get_weather"}, *tok, true);
  ASSERT_TRUE(named.is_ok());
  c = named.value()();
  auto reasoning = tok->encode("I should look it up.", false);
  for (int32_t t : reasoning.value()) {
    EXPECT_FALSE(c->allows(ids.im_end));
    EXPECT_TRUE(c->allows(ids.tool_call));
    c->accept(t);
  }
  c->accept(ids.think_end);
  want = tok->encode("\n\n<tool_call>\n<function=get_weather>\n", true);
  std::string forced;
  for (int32_t t : want.value()) {
    ASSERT_TRUE(c->allows(t));
    EXPECT_FALSE(c->allows(ids.im_end));
    forced += tok->token_to_piece(t);
    c->accept(t);
  }
  EXPECT_EQ(forced, "\n\n<tool_call>\n<function=get_weather>\n");
  EXPECT_TRUE(c->allows(ids.im_end));
}

}  // namespace
}  // namespace hearth::server
