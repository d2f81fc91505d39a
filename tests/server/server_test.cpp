// End-to-end tests of the HTTP server in-process: a tiny synthetic Qwen3.5 (noise weights) served
// on a free localhost port, driven with httplib::Client (and a raw socket for the disconnect
// case). Covers the OpenAI and Ollama routes, streaming shapes, usage accounting, sampling
// controls, and the bad-input suite (each answered with the right status, server stays healthy).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/thread_pool.h"
#include "chat/chat_template.h"
#include "convert/hf_vocab.h"
#include "gguf/gguf_writer.h"
#include "model/synthetic.h"
#include "server/server.h"
#include "store/file_util.h"
#include "store/model_store.h"
#include "store/sha256.h"

namespace hearth::server {
namespace {

using Json = nlohmann::json;
constexpr int64_t kContext = 256;

std::string tiny_model_path() {
  static std::string path;
  if (!path.empty()) return path;
  model::SyntheticOptions opt;
  opt.size = "tiny";
  opt.type = model::FileType::kF32;
  opt.seed = 11;
  auto vocab = model::make_synthetic_vocab();
  gguf::GgufWriter writer;
  ThreadPool pool(2);
  Status s = model::build_synthetic_model(opt, vocab, writer, pool);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  path = "/tmp/hearth_server_test_" + std::to_string(getpid()) + ".gguf";
  s = writer.write_file(path);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return path;
}

// Removes the model file after the last test.
class TinyModelCleanup : public ::testing::Environment {
 public:
  void TearDown() override { unlink(tiny_model_path().c_str()); }
};
[[maybe_unused]] ::testing::Environment* const g_cleanup =
    ::testing::AddGlobalTestEnvironment(new TinyModelCleanup);

ServerOptions test_options() {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.engine.n_threads = 2;
  o.engine.max_sequences = 4;
  o.engine.context_length = kContext;
  o.keep_alive = std::chrono::minutes(5);
  o.http_threads = 8;
  std::string path = tiny_model_path();
  o.resolve_model = [path](const std::string& name) -> Result<std::string> {
    if (name == "tiny" || name == "tiny:latest") return path;
    return not_found_error("unknown model '" + name + "'");
  };
  o.list_models = [path] { return std::vector<ModelListing>{{"tiny", path, 1000, 1700000000}}; };
  return o;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new Server(test_options());
    Status s = server_->start();
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(120);
    return c;
  }
  httplib::Result post(const std::string& path, const std::string& body) {
    return client().Post(path.c_str(), body, "application/json");
  }
  Json post_json(const std::string& path, const Json& body, int expect_status = 200) {
    auto r = post(path, body.dump());
    EXPECT_TRUE(r) << "no response for " << path;
    if (!r) return {};
    EXPECT_EQ(r->status, expect_status) << r->body;
    return Json::parse(r->body);
  }
  static Json user_chat(const std::string& text, Json extra = Json::object()) {
    Json body = {{"model", "tiny"},
                 {"messages", Json::array({{{"role", "user"}, {"content", text}}})},
                 {"chat_template_kwargs", {{"enable_thinking", false}}}};
    for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
    return body;
  }
  // Bans the end-of-generation tokens (so a generation runs to max_tokens) and whitespace-only
  // tokens: the noise model otherwise likes "\n", which the output parser trims away, leaving
  // nothing visible to compare.
  static Json no_eos_bias() {
    auto lease = server_->models().acquire("tiny");
    const auto& tok = *lease.value()->tokenizer;
    const auto& ids = tok.special_ids();
    Json bias = Json::object();
    for (int32_t id : {ids.im_end, ids.endoftext, ids.eos})
      if (id >= 0) bias[std::to_string(id)] = -100;
    for (int32_t id = 0; id < tok.vocab_size(); ++id) {
      std::string piece = tok.token_to_piece(id);
      if (!piece.empty() && piece.find_first_not_of(" \t\r\n") == std::string::npos)
        bias[std::to_string(id)] = -100;
    }
    return bias;
  }
  static size_t prompt_token_count(const std::string& user_text) {
    auto lease = server_->models().acquire("tiny");
    chat::ChatRequest req;
    chat::Message m;
    m.role = "user";
    m.content = chat::MessageContent::from_text(user_text);
    req.messages.push_back(m);
    req.enable_thinking = false;
    auto text = lease.value()->chat_template->render(req);
    auto ids = lease.value()->tokenizer->encode(text.value(), true);
    return ids.value().size();
  }

  // SSE body -> the JSON of every data event; sets *done when "data: [DONE]" ended it.
  static std::vector<Json> parse_sse(const std::string& body, bool* done) {
    std::vector<Json> events;
    *done = false;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t end = body.find("\n\n", pos);
      EXPECT_NE(end, std::string::npos) << "event not terminated by a blank line";
      if (end == std::string::npos) break;
      std::string ev = body.substr(pos, end - pos);
      pos = end + 2;
      if (ev.rfind(":", 0) == 0) continue;  // comment (keep-alive)
      EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
      std::string data = ev.substr(6);
      EXPECT_FALSE(*done) << "event after [DONE]";
      if (data == "[DONE]") {
        *done = true;
        continue;
      }
      events.push_back(Json::parse(data));
    }
    return events;
  }

  static std::vector<Json> parse_ndjson(const std::string& body) {
    std::vector<Json> lines;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t end = body.find('\n', pos);
      EXPECT_NE(end, std::string::npos);
      if (end == std::string::npos) break;
      lines.push_back(Json::parse(body.substr(pos, end - pos)));
      pos = end + 1;
    }
    return lines;
  }

  static void expect_openai_error(const httplib::Result& r, int status) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    Json j = Json::parse(r->body);
    ASSERT_TRUE(j.contains("error")) << r->body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
    EXPECT_TRUE(j["error"]["type"].is_string());
    EXPECT_TRUE(j["error"].contains("param"));
    EXPECT_TRUE(j["error"].contains("code"));
  }

  void expect_healthy() {
    auto r = client().Get("/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }

  static Server* server_;
};

Server* ServerTest::server_ = nullptr;

TEST_F(ServerTest, ChatNonStreamShapeAndUsage) {
  Json r =
      post_json("/v1/chat/completions",
                user_chat("Hello there",
                          {{"max_tokens", 8}, {"temperature", 0}, {"logit_bias", no_eos_bias()}}));
  EXPECT_EQ(r["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_TRUE(r["created"].is_number_integer());
  EXPECT_EQ(r["model"], "tiny");
  ASSERT_EQ(r["choices"].size(), 1u);
  const Json& c = r["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["message"]["role"], "assistant");
  ASSERT_TRUE(c["message"]["content"].is_string());
  EXPECT_FALSE(c["message"]["content"].get<std::string>().empty());
  EXPECT_TRUE(c["logprobs"].is_null());
  std::string finish = c["finish_reason"];
  EXPECT_TRUE(finish == "stop" || finish == "length") << finish;
  const Json& u = r["usage"];
  EXPECT_EQ(u["prompt_tokens"], prompt_token_count("Hello there"));
  EXPECT_GE(u["completion_tokens"].get<int>(), 1);
  EXPECT_LE(u["completion_tokens"].get<int>(), 8);
  EXPECT_EQ(u["total_tokens"], u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_TRUE(u["prompt_tokens_details"]["cached_tokens"].is_number_integer());
}

TEST_F(ServerTest, MaxTokensGivesLength) {
  for (const char* field : {"max_tokens", "max_completion_tokens"}) {
    Json r = post_json("/v1/chat/completions",
                       user_chat("Count", {{field, 5}, {"logit_bias", no_eos_bias()}}));
    EXPECT_EQ(r["choices"][0]["finish_reason"], "length") << field;
    EXPECT_EQ(r["usage"]["completion_tokens"], 5) << field;
  }
}

TEST_F(ServerTest, StreamMatchesNonStreamAndEndsWithUsage) {
  Json extra = {{"max_tokens", 12}, {"temperature", 0}, {"logit_bias", no_eos_bias()}};
  Json whole = post_json("/v1/chat/completions", user_chat("Stream me", extra));
  extra["stream"] = true;
  extra["stream_options"] = {{"include_usage", true}};
  auto r = post("/v1/chat/completions", user_chat("Stream me", extra).dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
  bool done = false;
  auto events = parse_sse(r->body, &done);
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 3u);
  std::string id = events[0]["id"];
  EXPECT_EQ(id.rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
  std::string content, finish;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const Json& e = events[i];
    EXPECT_EQ(e["id"], id);
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_TRUE(e["usage"].is_null());
    ASSERT_EQ(e["choices"].size(), 1u);
    const Json& ch = e["choices"][0];
    if (ch["delta"].contains("content")) content += ch["delta"]["content"].get<std::string>();
    if (!ch["finish_reason"].is_null()) {
      EXPECT_TRUE(finish.empty()) << "two finish chunks";
      finish = ch["finish_reason"];
    }
  }
  EXPECT_EQ(finish, "length");
  EXPECT_FALSE(content.empty());
  EXPECT_EQ(content, whole["choices"][0]["message"]["content"].get<std::string>());
  const Json& last = events.back();
  EXPECT_TRUE(last["choices"].is_array());
  EXPECT_TRUE(last["choices"].empty());
  EXPECT_EQ(last["usage"]["completion_tokens"], 12);
  EXPECT_EQ(last["usage"]["prompt_tokens"], whole["usage"]["prompt_tokens"]);
}

TEST_F(ServerTest, SeedReproducibilityAndN) {
  Json extra = {
      {"max_tokens", 10}, {"temperature", 1.0}, {"seed", 42}, {"logit_bias", no_eos_bias()}};
  Json a = post_json("/v1/chat/completions", user_chat("Tell me", extra));
  Json b = post_json("/v1/chat/completions", user_chat("Tell me", extra));
  EXPECT_FALSE(a["choices"][0]["message"]["content"].get<std::string>().empty());
  EXPECT_EQ(a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"]);

  extra["n"] = 2;
  Json n2 = post_json("/v1/chat/completions", user_chat("Tell me", extra));
  ASSERT_EQ(n2["choices"].size(), 2u);
  EXPECT_EQ(n2["choices"][0]["index"], 0);
  EXPECT_EQ(n2["choices"][1]["index"], 1);
  EXPECT_EQ(n2["usage"]["completion_tokens"], 20);  // both choices counted
  // Choice 0 uses the request's seed, so it equals the single-choice answer.
  EXPECT_EQ(n2["choices"][0]["message"]["content"], a["choices"][0]["message"]["content"]);
}

TEST_F(ServerTest, StopStringEndsCompletionBeforeIt) {
  Json body = {{"model", "tiny"},
               {"prompt", "Once upon a time"},
               {"max_tokens", 24},
               {"temperature", 0},
               {"logit_bias", no_eos_bias()}};
  Json full = post_json("/v1/completions", body);
  EXPECT_EQ(full["object"], "text_completion");
  std::string text = full["choices"][0]["text"];
  ASSERT_GT(text.size(), 4u);
  // The 4th UTF-8 character of the greedy output becomes the stop string.
  size_t start = 0;
  for (int chars = 0; chars < 3 && start < text.size();) {
    ++start;
    if (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) != 0x80) ++chars;
  }
  size_t len = 1;
  while (start + len < text.size() &&
         (static_cast<unsigned char>(text[start + len]) & 0xC0) == 0x80)
    ++len;
  std::string stop = text.substr(start, len);
  size_t first = text.find(stop);
  body["stop"] = stop;
  Json stopped = post_json("/v1/completions", body);
  EXPECT_EQ(stopped["choices"][0]["text"], text.substr(0, first));
  EXPECT_EQ(stopped["choices"][0]["finish_reason"], "stop");
  body["stop"] = Json::array({stop, "zzzz-never"});
  Json stopped2 = post_json("/v1/completions", body);
  EXPECT_EQ(stopped2["choices"][0]["text"], text.substr(0, first));
}

TEST_F(ServerTest, LogprobsShape) {
  Json r = post_json("/v1/chat/completions", user_chat("Hi", {{"max_tokens", 3},
                                                              {"logprobs", true},
                                                              {"top_logprobs", 2},
                                                              {"logit_bias", no_eos_bias()}}));
  const Json& lp = r["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 3u);
  for (const auto& e : lp) {
    EXPECT_TRUE(e["token"].is_string());
    EXPECT_LE(e["logprob"].get<double>(), 0.0);
    EXPECT_TRUE(e["bytes"].is_array());
    EXPECT_EQ(e["top_logprobs"].size(), 2u);
  }
}

// /v1/completions logprobs: the legacy shape (tokens, token_logprobs, top_logprobs as
// {token: logprob} objects, text_offset), the same streamed and not.
TEST_F(ServerTest, CompletionsLegacyLogprobs) {
  Json body = {{"model", "tiny"},  {"prompt", "Once upon"}, {"max_tokens", 4},
               {"temperature", 0}, {"logprobs", 2},         {"logit_bias", no_eos_bias()}};
  Json r = post_json("/v1/completions", body);
  const Json& lp = r["choices"][0]["logprobs"];
  ASSERT_TRUE(lp.is_object()) << r.dump();
  ASSERT_EQ(lp["tokens"].size(), 4u);
  ASSERT_EQ(lp["token_logprobs"].size(), 4u);
  ASSERT_EQ(lp["top_logprobs"].size(), 4u);
  ASSERT_EQ(lp["text_offset"].size(), 4u);
  std::string text;
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(lp["text_offset"][k], text.size());
    text += lp["tokens"][k].get<std::string>();
    EXPECT_LE(lp["token_logprobs"][k].get<double>(), 0.0);
    EXPECT_GE(lp["top_logprobs"][k].size(), 1u);
    EXPECT_LE(lp["top_logprobs"][k].size(), 2u);
    // Greedy: the chosen token is the most likely one, so it is among the alternatives.
    EXPECT_TRUE(lp["top_logprobs"][k].contains(lp["tokens"][k].get<std::string>()));
  }
  EXPECT_EQ(text, r["choices"][0]["text"]);

  body["stream"] = true;
  auto sr = post("/v1/completions", body.dump());
  ASSERT_TRUE(sr);
  bool done = false;
  Json tokens = Json::array(), offsets = Json::array();
  for (const Json& ev : parse_sse(sr->body, &done)) {
    const Json& l = ev["choices"][0]["logprobs"];
    if (l.is_null()) continue;
    for (const auto& t : l["tokens"]) tokens.push_back(t);
    for (const auto& o : l["text_offset"]) offsets.push_back(o);
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(tokens, lp["tokens"]);
  EXPECT_EQ(offsets, lp["text_offset"]);

  body["stream"] = false;
  body["logprobs"] = 9;
  (void)post_json("/v1/completions", body, 400);
}

TEST_F(ServerTest, Models) {
  auto r = client().Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  Json j = Json::parse(r->body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["id"], "tiny");
  EXPECT_EQ(j["data"][0]["object"], "model");
  r = client().Get("/v1/models/tiny");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body)["id"], "tiny");
  expect_openai_error(client().Get("/v1/models/nope"), 404);
}

TEST_F(ServerTest, OllamaChatAndGenerate) {
  Json body = {{"model", "tiny"},
               {"messages", Json::array({{{"role", "user"}, {"content", "Hi"}}})},
               {"think", false},
               {"options", {{"num_predict", 6}, {"temperature", 0}, {"seed", 3}}}};
  auto r = post("/api/chat", body.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("application/x-ndjson", 0), 0u);
  auto lines = parse_ndjson(r->body);
  ASSERT_GE(lines.size(), 1u);
  std::string streamed;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_EQ(lines[i]["message"]["role"], "assistant");
    streamed += lines[i]["message"]["content"].get<std::string>();
  }
  const Json& last = lines.back();
  EXPECT_EQ(last["done"], true);
  EXPECT_TRUE(last["done_reason"] == "stop" || last["done_reason"] == "length");
  EXPECT_GE(last["eval_count"].get<int>(), 1);
  EXPECT_LE(last["eval_count"].get<int>(), 6);
  EXPECT_GT(last["prompt_eval_count"].get<int>(), 0);
  EXPECT_GE(last["total_duration"].get<int64_t>(), last["eval_duration"].get<int64_t>());
  EXPECT_TRUE(last["created_at"].is_string());

  body["stream"] = false;
  Json one = post_json("/api/chat", body);
  EXPECT_EQ(one["done"], true);
  EXPECT_EQ(one["message"]["content"], streamed);  // greedy: same text

  Json gen = {{"model", "tiny"},
              {"prompt", "Why is the sky blue?"},
              {"think", false},
              {"options", {{"num_predict", 4}}}};
  r = post("/api/generate", gen.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  lines = parse_ndjson(r->body);
  ASSERT_GE(lines.size(), 1u);
  for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_TRUE(lines[i]["response"].is_string());
  EXPECT_EQ(lines.back()["done"], true);

  gen["raw"] = true;
  gen["stream"] = false;
  Json raw = post_json("/api/generate", gen);
  EXPECT_TRUE(raw["response"].is_string());
  EXPECT_GT(raw["prompt_eval_count"].get<int>(), 0);

  Json load = post_json("/api/generate", {{"model", "tiny"}});
  EXPECT_EQ(load["done_reason"], "load");
}

TEST_F(ServerTest, OllamaTagsShowPsVersion) {
  (void)post_json("/api/generate", {{"model", "tiny"}});         // load
  (void)post_json("/api/generate", {{"model", "tiny:latest"}});  // an alias shares the copy
  auto r = client().Get("/api/tags");
  ASSERT_TRUE(r);
  Json tags = Json::parse(r->body);
  ASSERT_EQ(tags["models"].size(), 1u);
  EXPECT_EQ(tags["models"][0]["name"], "tiny");
  EXPECT_EQ(tags["models"][0]["details"]["format"], "gguf");
  // details come from the GGUF header: the tiny model is f32 with a few hundred thousand weights.
  const Json& details = tags["models"][0]["details"];
  EXPECT_EQ(details["family"], "qwen35");
  EXPECT_EQ(details["quantization_level"], "F32");
  std::string params = details["parameter_size"];
  ASSERT_FALSE(params.empty());
  EXPECT_TRUE(params.back() == 'K' || params.back() == 'M') << params;

  Json show = post_json("/api/show", {{"model", "tiny"}});
  EXPECT_EQ(show["model_info"]["general.architecture"], "qwen35");
  EXPECT_EQ(show["details"], details);
  EXPECT_TRUE(show["capabilities"].is_array());

  r = client().Get("/api/ps");
  ASSERT_TRUE(r);
  Json ps = Json::parse(r->body);
  ASSERT_EQ(ps["models"].size(), 1u);
  const Json& loaded = ps["models"][0];
  EXPECT_EQ(loaded["name"], "tiny");
  EXPECT_EQ(loaded["context_length"], kContext);
  // Memory in use: at least the weights file, which is mapped whole.
  struct stat st {};
  ASSERT_EQ(::stat(tiny_model_path().c_str(), &st), 0);
  EXPECT_GE(loaded["size"].get<uint64_t>(), static_cast<uint64_t>(st.st_size));
  EXPECT_EQ(loaded["size_vram"], 0);
  EXPECT_EQ(loaded["digest"], "") << "a plain file has no store digest";
  EXPECT_EQ(loaded["details"], details);
  EXPECT_TRUE(loaded["expires_at"].is_string());

  r = client().Get("/api/version");
  ASSERT_TRUE(r);
  EXPECT_TRUE(Json::parse(r->body)["version"].is_string());
  r = client().Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hearth is running");
  r = client().Head("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, BadInputs) {
  expect_openai_error(post("/v1/chat/completions", "{not json"), 400);
  expect_openai_error(post("/v1/chat/completions", "[1,2]"), 400);
  expect_openai_error(post("/v1/chat/completions", ""), 400);
  expect_openai_error(post("/v1/chat/completions", user_chat("x", {{"temperature", "hot"}}).dump()),
                      400);
  expect_openai_error(post("/v1/chat/completions", user_chat("x", {{"max_tokens", -3}}).dump()),
                      400);
  expect_openai_error(post("/v1/chat/completions", user_chat("x", {{"n", 1000}}).dump()), 400);
  expect_openai_error(post("/v1/chat/completions", user_chat("x", {{"stop", 5}}).dump()), 400);
  expect_openai_error(
      post("/v1/chat/completions", user_chat("x", {{"messages", Json::array()}}).dump()), 400);
  expect_openai_error(post("/v1/chat/completions", R"({"model":"tiny"})"), 400);
  expect_openai_error(
      post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}]})"), 400);
  expect_openai_error(
      post("/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":42}]})"),
      400);
  expect_openai_error(post("/v1/chat/completions",
                           user_chat("x", {{"response_format", {{"type", "json_schema"}}}}).dump()),
                      400);
  // Invalid UTF-8 inside a JSON string.
  expect_openai_error(
      post("/v1/chat/completions",
           std::string(R"({"model":"tiny","messages":[{"role":"user","content":"a)") + "\xff\xfe" +
               R"("}]})"),
      400);
  // Unknown model.
  auto r = post("/v1/chat/completions",
                R"({"model":"nope","messages":[{"role":"user","content":"x"}]})");
  expect_openai_error(r, 404);
  // Over-long prompt: 400 naming both numbers, never truncated.
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "word" + std::to_string(i) + " ";
  r = post("/v1/chat/completions", user_chat(long_text).dump());
  expect_openai_error(r, 400);
  Json err = Json::parse(r->body)["error"];
  EXPECT_EQ(err["code"], "context_length_exceeded");
  EXPECT_NE(err["message"].get<std::string>().find(std::to_string(kContext)), std::string::npos);
  // 20 MB body.
  std::string huge = R"({"model":"tiny","messages":[{"role":"user","content":")" +
                     std::string(20u << 20, 'a') + R"("}]})";
  r = post("/v1/chat/completions", huge);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  // Ollama routes answer {"error": "..."}.
  r = post("/api/chat", "{oops");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(Json::parse(r->body)["error"].is_string());
  r = post("/api/chat", R"({"model":"nope","messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(Json::parse(r->body)["error"].is_string());
  r = post("/api/generate", R"({"model":"tiny","prompt":"x","options":{"temperature":"warm"}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = client().Get("/v1/nothing-here");
  expect_openai_error(r, 404);
  expect_healthy();
}

TEST_F(ServerTest, MetricsCountRequestsAndTokens) {
  (void)post_json("/v1/chat/completions", user_chat("m", {{"max_tokens", 2}}));
  // A request is counted by httplib's logger, which runs after the response has been written, so
  // the client can ask for /metrics a moment before the count lands: poll briefly.
  const std::string counted =
      "hearth_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}";
  std::string body;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto r = client().Get("/metrics");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    body = r->body;
    if (body.find(counted) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(body.find(counted), std::string::npos);
  EXPECT_NE(body.find("hearth_generated_tokens_total "), std::string::npos);
  EXPECT_NE(body.find("hearth_queue_depth "), std::string::npos);
  EXPECT_NE(body.find("hearth_prefix_cache_hits_total "), std::string::npos);
}

// Sends a JSON POST over a plain socket (so the test can hang up mid-response) and returns the
// connected fd, or -1 when connecting or writing failed.
int send_raw_post(int port, const std::string& path, const std::string& payload) {
  std::string request = "POST " + path +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Content-Length: " +
                        std::to_string(payload.size()) + "\r\n\r\n" + payload;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

// The tiny model generates faster than a client reads, so this server gets a long context: the
// generation would run for thousands of tokens unless the disconnect cancels it.
TEST_F(ServerTest, DisconnectMidStreamCancelsGeneration) {
  ServerOptions o = test_options();
  o.engine.context_length = 4096;
  Server server(o);
  ASSERT_TRUE(server.start().is_ok());
  const uint64_t generated_before = server.models().engine_stats().generated_tokens;
  const int kMaxTokens = 4000;
  Json body = user_chat(
      "Keep going", {{"stream", true}, {"max_tokens", kMaxTokens}, {"logit_bias", no_eos_bias()}});
  int fd = send_raw_post(server.port(), "/v1/chat/completions", body.dump());
  ASSERT_GE(fd, 0);
  std::string got;
  char buf[4096];
  while (got.find("\"content\":\"") == std::string::npos || got.size() < 600) {
    ssize_t n = read(fd, buf, sizeof buf);
    ASSERT_GT(n, 0) << got;
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(got.find("200 OK"), std::string::npos);
  close(fd);
  // The generation stops well before its max_tokens: nothing runs once the server notices.
  bool idle = false;
  for (int i = 0; i < 400 && !idle; ++i) {
    auto s = server.models().engine_stats();
    idle = s.running == 0 && s.waiting == 0;
    if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_TRUE(idle);
  uint64_t generated = server.models().engine_stats().generated_tokens - generated_before;
  EXPECT_LT(generated, static_cast<uint64_t>(kMaxTokens)) << "the generation was not cancelled";
  expect_healthy();
  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// A non-streamed response writes nothing until the end, so the server watches the connection
// itself: closing it mid-generation cancels the generation (every route shares the watch).
TEST_F(ServerTest, DisconnectCancelsNonStreamedGeneration) {
  ServerOptions o = test_options();
  o.engine.context_length = 4096;
  Server server(o);
  ASSERT_TRUE(server.start().is_ok());
  const int kMaxTokens = 4000;
  Json openai =
      user_chat("Keep going", {{"max_tokens", kMaxTokens}, {"logit_bias", no_eos_bias()}});
  Json completion = {{"model", "tiny"},
                     {"prompt", "Keep going"},
                     {"max_tokens", kMaxTokens},
                     {"logit_bias", no_eos_bias()}};
  for (const auto& [path, body] : {std::pair<std::string, Json>{"/v1/chat/completions", openai},
                                   std::pair<std::string, Json>{"/v1/completions", completion}}) {
    const uint64_t generated_before = server.models().engine_stats().generated_tokens;
    int fd = send_raw_post(server.port(), path, body.dump());
    ASSERT_GE(fd, 0) << path;
    // Wait until tokens are being generated, then hang up.
    bool generating = false;
    for (int i = 0; i < 2000 && !generating; ++i) {
      generating = server.models().engine_stats().generated_tokens > generated_before + 8;
      if (!generating) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(generating) << path;
    close(fd);
    bool idle = false;
    for (int i = 0; i < 400 && !idle; ++i) {
      auto s = server.models().engine_stats();
      idle = s.running == 0 && s.waiting == 0;
      if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    EXPECT_TRUE(idle) << path;
    uint64_t generated = server.models().engine_stats().generated_tokens - generated_before;
    EXPECT_LT(generated, static_cast<uint64_t>(kMaxTokens)) << path << ": not cancelled";
  }
  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// A model served from a model store reports Ollama's digest in /api/ps and /api/tags: the sha256
// of its manifest, whose first 12 hex digits are the ID `hearth list` shows.
TEST(ServerPs, StoreModelReportsItsManifestDigest) {
  std::filesystem::path root = std::filesystem::temp_directory_path() /
                               ("hearth_server_ps_store_" + std::to_string(getpid()));
  std::filesystem::remove_all(root);
  auto model_store = std::make_shared<store::ModelStore>(root.string());
  auto name = store::parse_model_name("tiny-store");
  ASSERT_TRUE(name.is_ok()) << name.status().to_string();
  auto imported = model_store->import_gguf(tiny_model_path(), *name);
  ASSERT_TRUE(imported.is_ok()) << imported.status().to_string();
  auto manifest_bytes = store::read_small_file(model_store->manifest_path(*name), 1 << 20);
  ASSERT_TRUE(manifest_bytes.is_ok());
  const std::string expected = "sha256:" + store::sha256_hex(*manifest_bytes);
  {
    ServerOptions o = test_options();
    o.resolve_model = [model_store](const std::string& model) -> Result<std::string> {
      HEARTH_ASSIGN_OR_RETURN(store::ModelName parsed, store::parse_model_name(model));
      HEARTH_ASSIGN_OR_RETURN(store::ModelEntry entry, model_store->resolve(parsed));
      return entry.gguf_path;
    };
    o.list_models = [entry = *imported] {
      return std::vector<ModelListing>{
          {"tiny-store", entry.gguf_path, static_cast<int64_t>(entry.size), 0}};
    };
    Server server(o);
    ASSERT_TRUE(server.start().is_ok());
    httplib::Client c("127.0.0.1", server.port());
    auto tags = c.Get("/api/tags");
    ASSERT_TRUE(tags);
    EXPECT_EQ(Json::parse(tags->body)["models"][0]["digest"], expected) << tags->body;
    ASSERT_TRUE(server.models().acquire("tiny-store").is_ok());
    auto r = c.Get("/api/ps");
    ASSERT_TRUE(r);
    Json ps = Json::parse(r->body);
    ASSERT_EQ(ps["models"].size(), 1u) << r->body;
    EXPECT_EQ(ps["models"][0]["digest"], expected);
    EXPECT_EQ(expected.substr(7, 12), imported->id);
    // Memory in use covers at least the mapped weights blob.
    EXPECT_GE(ps["models"][0]["size"].get<uint64_t>(),
              std::filesystem::file_size(imported->gguf_path));
  }
  std::filesystem::remove_all(root);
}

// Allows the tokens of a script in order, then anything: it forces how a generation starts and
// leaves the rest to the other constraints (here the JSON schema).
class PrefixScriptConstraint : public sampling::TokenConstraint {
 public:
  explicit PrefixScriptConstraint(std::shared_ptr<const std::vector<int32_t>> script)
      : script_(std::move(script)) {}
  bool allows(int32_t token) const override {
    return pos_ >= script_->size() || token == (*script_)[pos_];
  }
  void accept(int32_t) override { ++pos_; }

 private:
  std::shared_ptr<const std::vector<int32_t>> script_;
  size_t pos_ = 0;
};

// Structured output with thinking on, on a tiny model with the real Qwen3 vocabulary (so </think>
// is one special token and the JSON constraint works over the real 151K-token trie). The script
// writes a short reasoning and closes it early; from there only the schema constraint picks the
// tokens: the content must parse as JSON matching the schema and the reasoning must stay apart.
// Every value in the schema is bounded, so the answer always ends well within max_tokens.
TEST(ServerStructuredThinking, SchemaAppliesOnlyAfterThinkEnd) {
  auto vocab = convert::read_hf_vocab(std::string(HEARTH_SHARED_DIR) +
                                      "/testdata/tokenizer/qwen3/tokenizer.json");
  ASSERT_TRUE(vocab.is_ok()) << vocab.status().to_string();
  vocab->chat_template = std::string(chat::qwen35_template_text());
  model::SyntheticOptions opt;
  opt.size = "tiny";
  opt.type = model::FileType::kQ8_0;  // the 151K-row embedding and head stay small
  opt.seed = 23;
  const std::string path = "/tmp/hearth_server_qwen_vocab_" + std::to_string(getpid()) + ".gguf";
  {
    gguf::GgufWriter writer;
    ThreadPool pool(2);
    Status built = model::build_synthetic_model(opt, *vocab, writer, pool);
    ASSERT_TRUE(built.is_ok()) << built.to_string();
    Status written = writer.write_file(path);
    ASSERT_TRUE(written.is_ok()) << written.to_string();
  }

  auto script = std::make_shared<std::vector<int32_t>>();
  ServerOptions o = test_options();
  o.engine.context_length = 1024;
  o.resolve_model = [path](const std::string& name) -> Result<std::string> {
    if (name == "qwen-vocab") return path;
    return not_found_error("unknown model '" + name + "'");
  };
  o.constraint_for_testing = [script] { return std::make_unique<PrefixScriptConstraint>(script); };
  {
    Server server(o);
    ASSERT_TRUE(server.start().is_ok());
    {
      auto lease = server.models().acquire("qwen-vocab");
      ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
      const auto& tok = *lease.value()->tokenizer;
      const int32_t think_end = tok.special_ids().think_end;
      ASSERT_GE(think_end, 0);
      auto reasoning = tok.encode("The user wants a verdict.", false);
      ASSERT_TRUE(reasoning.is_ok());
      *script = reasoning.value();
      script->push_back(think_end);
    }
    const Json schema = Json::parse(R"({"type":"object",
        "properties":{"verdict":{"type":"boolean"},"level":{"enum":["low","high"]}},
        "required":["verdict","level"],"additionalProperties":false})");
    auto check_content = [&](const std::string& content) {
      Json parsed = Json::parse(content, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(parsed.is_object()) << "content is not a JSON object: " << content;
      EXPECT_EQ(parsed.size(), 2u) << content;
      EXPECT_TRUE(parsed["verdict"].is_boolean()) << content;
      EXPECT_TRUE(parsed["level"] == "low" || parsed["level"] == "high") << content;
    };
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(120);

    // OpenAI: thinking is on by default for Qwen3.5's template.
    Json body = {{"model", "qwen-vocab"},
                 {"messages", Json::array({{{"role", "user"}, {"content", "Judge this."}}})},
                 {"max_tokens", 200},
                 {"seed", 3},
                 {"response_format",
                  {{"type", "json_schema"},
                   {"json_schema", {{"name", "verdict"}, {"schema", schema}, {"strict", true}}}}}};
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    Json j = Json::parse(r->body);
    const Json& msg = j["choices"][0]["message"];
    EXPECT_EQ(msg["reasoning_content"], "The user wants a verdict.") << r->body;
    check_content(msg["content"].get<std::string>());
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop") << r->body;

    // Ollama /api/chat with think: the reasoning goes to message.thinking.
    Json ollama = {{"model", "qwen-vocab"},
                   {"messages", Json::array({{{"role", "user"}, {"content", "Judge this."}}})},
                   {"stream", false},
                   {"think", true},
                   {"format", schema},
                   {"options", {{"num_predict", 200}, {"seed", 4}}}};
    r = c.Post("/api/chat", ollama.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    j = Json::parse(r->body);
    EXPECT_EQ(j["message"]["thinking"], "The user wants a verdict.") << r->body;
    check_content(j["message"]["content"].get<std::string>());
    EXPECT_EQ(j["done_reason"], "stop") << r->body;
  }
  unlink(path.c_str());
}

TEST(ServerAuth, BearerKeyRequired) {
  ServerOptions o = test_options();
  o.api_key = "secret";
  Server server(o);
  ASSERT_TRUE(server.start().is_ok());
  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Json::parse(r->body)["error"]["type"], "authentication_error");
  r = c.Get("/v1/models", {{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c.Get("/v1/models", {{"Authorization", "Bearer secret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// Scripts the sampled tokens through the engine's constraint mechanism: only the next token of the
// script is allowed, then only <|im_end|>. The text below is what a Qwen3.5 model writes for a
// thinking turn that calls a tool.
class ScriptConstraint : public sampling::TokenConstraint {
 public:
  ScriptConstraint(std::shared_ptr<const std::vector<int32_t>> script, int32_t end)
      : script_(std::move(script)), end_(end) {}
  bool allows(int32_t token) const override {
    return pos_ < script_->size() ? token == (*script_)[pos_] : token == end_;
  }
  void accept(int32_t) override { ++pos_; }

 private:
  std::shared_ptr<const std::vector<int32_t>> script_;
  int32_t end_;
  size_t pos_ = 0;
};

class ScriptedServer : public ::testing::Test {
 protected:
  void SetUp() override {
    auto script = std::make_shared<std::vector<int32_t>>();
    auto end = std::make_shared<int32_t>(-1);
    ServerOptions o = test_options();
    o.engine.context_length = 2048;  // the tool instructions alone are ~1000 synthetic tokens
    o.constraint_for_testing = [script, end] {
      return std::make_unique<ScriptConstraint>(script, *end);
    };
    server_ = std::make_unique<Server>(o);
    ASSERT_TRUE(server_->start().is_ok());
    auto lease = server_->models().acquire("tiny");
    ASSERT_TRUE(lease.is_ok());
    const auto& tok = *lease.value()->tokenizer;
    *end = tok.special_ids().im_end;
    auto ids = tok.encode(
        "Let me check the weather.\n</think>\n\n<tool_call>\n<function=get_weather>\n"
        "<parameter=city>\nParis\n</parameter>\n<parameter=days>\n3\n</parameter>\n"
        "</function>\n</tool_call>",
        false);
    ASSERT_TRUE(ids.is_ok());
    *script = ids.value();
  }
  static Json tools() {
    return Json::parse(R"([{"type":"function","function":{"name":"get_weather",
        "parameters":{"type":"object","properties":{"city":{"type":"string"},
        "days":{"type":"integer"}}}}}])");
  }
  std::unique_ptr<Server> server_;
};

TEST_F(ScriptedServer, ToolCallAndReasoningOpenAI) {
  httplib::Client c("127.0.0.1", server_->port());
  c.set_read_timeout(120);  // slow under sanitizers: ~1000 prompt tokens
  Json body = {{"model", "tiny"},
               {"messages", Json::array({{{"role", "user"}, {"content", "Weather in Paris?"}}})},
               {"tools", tools()}};
  auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  Json j = Json::parse(r->body);
  const Json& choice = j["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  const Json& msg = choice["message"];
  EXPECT_EQ(msg["reasoning_content"], "Let me check the weather.");
  EXPECT_TRUE(msg["content"].is_null());
  ASSERT_EQ(msg["tool_calls"].size(), 1u);
  EXPECT_EQ(msg["tool_calls"][0]["function"]["name"], "get_weather");
  Json args = Json::parse(msg["tool_calls"][0]["function"]["arguments"].get<std::string>());
  EXPECT_EQ(args, Json::parse(R"({"city":"Paris","days":3})"));
  EXPECT_GT(j["usage"]["completion_tokens_details"]["reasoning_tokens"].get<int>(), 0);

  // Round trip: the call and its result go back as history (arguments as OpenAI's JSON string).
  Json history = body;
  history["messages"].push_back(msg);
  history["messages"].push_back(
      {{"role", "tool"}, {"tool_call_id", msg["tool_calls"][0]["id"]}, {"content", "Sunny, 21 C"}});
  auto r2 = c.Post("/v1/chat/completions", history.dump(), "application/json");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200) << r2->body;
  EXPECT_GT(Json::parse(r2->body)["usage"]["prompt_tokens"].get<int>(),
            j["usage"]["prompt_tokens"].get<int>());

  // Streamed: reasoning deltas, one tool_calls delta with id and name, finish "tool_calls".
  body["stream"] = true;
  r = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::string reasoning, finish;
  Json calls = Json::array();
  size_t pos = 0;
  while ((pos = r->body.find("data: ", pos)) != std::string::npos) {
    size_t end = r->body.find("\n\n", pos);
    std::string data = r->body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") break;
    Json ev = Json::parse(data);
    const Json& ch = ev["choices"][0];
    if (ch["delta"].contains("reasoning_content"))
      reasoning += ch["delta"]["reasoning_content"].get<std::string>();
    if (ch["delta"].contains("tool_calls"))
      for (const auto& t : ch["delta"]["tool_calls"]) calls.push_back(t);
    if (!ch["finish_reason"].is_null()) finish = ch["finish_reason"];
  }
  EXPECT_EQ(reasoning, "Let me check the weather.");
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["index"], 0);
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(calls[0]["id"].get<std::string>().rfind("call_", 0), 0u);
}

TEST_F(ScriptedServer, ToolCallAndThinkingOllama) {
  httplib::Client c("127.0.0.1", server_->port());
  c.set_read_timeout(120);  // slow under sanitizers: ~1000 prompt tokens
  Json body = {{"model", "tiny"},
               {"messages", Json::array({{{"role", "user"}, {"content", "Weather in Paris?"}}})},
               {"tools", tools()},
               {"stream", false}};
  auto r = c.Post("/api/chat", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  Json j = Json::parse(r->body);
  EXPECT_EQ(j["message"]["thinking"], "Let me check the weather.");
  ASSERT_EQ(j["message"]["tool_calls"].size(), 1u);
  EXPECT_EQ(j["message"]["tool_calls"][0]["function"]["arguments"],
            Json::parse(R"({"city":"Paris","days":3})"));  // an object, as Ollama sends
}

// tool_choice through the real engine: the test script leaves "free" slots (-1) exactly where the
// server must force the call's opening tokens, and scripts the rest. If the server forced nothing
// (or other tokens), the noise model would fill the slots with junk and no call would parse.
class FreeSlotScript : public sampling::TokenConstraint {
 public:
  FreeSlotScript(std::shared_ptr<const std::vector<int32_t>> script, int32_t end)
      : script_(std::move(script)), end_(end) {}
  bool allows(int32_t token) const override {
    if (pos_ >= script_->size()) return token == end_;
    return (*script_)[pos_] < 0 || token == (*script_)[pos_];
  }
  void accept(int32_t) override { ++pos_; }

 private:
  std::shared_ptr<const std::vector<int32_t>> script_;
  int32_t end_;
  size_t pos_ = 0;
};

class ToolChoiceServer : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = std::make_shared<std::vector<int32_t>>();
    auto end = std::make_shared<int32_t>(-1);
    ServerOptions o = test_options();
    o.engine.context_length = 2048;  // the tool instructions alone are ~1000 synthetic tokens
    o.constraint_for_testing = [script = script_, end] {
      return std::make_unique<FreeSlotScript>(script, *end);
    };
    server_ = std::make_unique<Server>(o);
    ASSERT_TRUE(server_->start().is_ok());
    auto lease = server_->models().acquire("tiny");
    ASSERT_TRUE(lease.is_ok());
    tok_ = lease.value()->tokenizer;
    *end = tok_->special_ids().im_end;
  }
  // `scripted` text, then as many free slots as `forced` has tokens, then `rest`.
  void set_script(const std::string& scripted, const std::string& forced, const std::string& rest) {
    script_->clear();
    for (const std::string* part : {&scripted, &forced, &rest}) {
      if (part->empty()) continue;
      auto ids = tok_->encode(*part, true);
      ASSERT_TRUE(ids.is_ok());
      for (int32_t id : ids.value()) script_->push_back(part == &forced ? -1 : id);
    }
  }
  static Json request(Json tool_choice, bool thinking) {
    return {{"model", "tiny"},
            {"messages", Json::array({{{"role", "user"}, {"content", "Weather in Paris?"}}})},
            {"tools", Json::parse(R"([{"type":"function","function":{"name":"get_weather",
                "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
                {"type":"function","function":{"name":"get_time","parameters":{}}}])")},
            {"tool_choice", tool_choice},
            {"chat_template_kwargs", {{"enable_thinking", thinking}}}};
  }
  Json post(const Json& body) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(120);  // slow under sanitizers: ~1000 prompt tokens
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return Json::parse(r->body);
  }
  std::shared_ptr<std::vector<int32_t>> script_;
  std::shared_ptr<const tokenizer::Tokenizer> tok_;
  std::unique_ptr<Server> server_;
};

TEST_F(ToolChoiceServer, RequiredForcesTheCallOpening) {
  set_script("", "<tool_call>\n<function=",
             "get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>");
  Json j = post(request("required", false));
  const Json& choice = j["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls") << j.dump();
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << j.dump();
  EXPECT_EQ(choice["message"]["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(
      Json::parse(choice["message"]["tool_calls"][0]["function"]["arguments"].get<std::string>()),
      Json::parse(R"({"city":"Paris"})"));
  EXPECT_TRUE(choice["message"]["content"].is_null());
}

TEST_F(ToolChoiceServer, NamedFunctionIsForcedAfterThinking) {
  // "</think>" is encoded on its own: the synthetic vocabulary spells it in several tokens and
  // the server waits for exactly that spelling.
  set_script("Let me see.\n", "", "");
  std::vector<int32_t> script = *script_;
  set_script("</think>", "\n\n<tool_call>\n<function=get_time>\n", "</function>\n</tool_call>");
  script_->insert(script_->begin(), script.begin(), script.end());
  Json j =
      post(request(Json::parse(R"({"type":"function","function":{"name":"get_time"}})"), true));
  const Json& choice = j["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls") << j.dump();
  EXPECT_EQ(choice["message"]["reasoning_content"], "Let me see.");
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << j.dump();
  EXPECT_EQ(choice["message"]["tool_calls"][0]["function"]["name"], "get_time");
}

TEST_F(ToolChoiceServer, UnknownFunctionOrMissingToolsIs400) {
  httplib::Client c("127.0.0.1", server_->port());
  Json body = request(Json::parse(R"({"type":"function","function":{"name":"nope"}})"), false);
  auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(Json::parse(r->body)["error"]["param"], "tool_choice");
  body = request("required", false);
  body.erase("tools");
  r = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  body["tool_choice"] = "whenever";
  r = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
}

// tool_choice "auto" and "none" need no tools; the synthetic vocabulary has no <tool_call> token
// to ban (ToolChoice.ConstraintsWithTheQwenVocabulary covers the ban), so both generate freely.
TEST_F(ServerTest, ToolChoiceAutoAndNoneAreAccepted) {
  for (const char* mode : {"auto", "none"}) {
    Json r = post_json("/v1/chat/completions",
                       user_chat("x", {{"max_tokens", 2}, {"tool_choice", mode}}));
    EXPECT_EQ(r["choices"].size(), 1u) << mode;
  }
}

// max_waiting 0 makes the engine refuse every request as "queue full": the HTTP answer is 503
// with Retry-After (clients retry it), never a 500, and the server keeps working.
TEST(ServerQueue, FullQueueGives503WithRetryAfter) {
  ServerOptions o = test_options();
  o.engine.max_waiting = 0;
  Server server(o);
  ASSERT_TRUE(server.start().is_ok());
  httplib::Client c("127.0.0.1", server.port());
  auto r =
      c.Post("/v1/chat/completions",
             R"({"model":"tiny","messages":[{"role":"user","content":"x"}]})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  Json j = Json::parse(r->body);
  EXPECT_EQ(j["error"]["code"], "queue_full");
  r = c.Post("/api/generate", R"({"model":"tiny","prompt":"x","stream":false})",
             "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_TRUE(Json::parse(r->body)["error"].is_string());
  r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ServerKeepAlive, IdleModelIsUnloaded) {
  ServerOptions o = test_options();
  o.keep_alive = std::chrono::milliseconds(100);
  Server server(o);
  ASSERT_TRUE(server.start().is_ok());
  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Post("/api/generate", R"({"model":"tiny"})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  bool unloaded = false;
  for (int i = 0; i < 200 && !unloaded; ++i) {
    unloaded = server.models().loaded().empty();
    if (!unloaded) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(unloaded);
  // keep_alive -1 keeps it.
  r = c.Post("/api/generate", R"({"model":"tiny","keep_alive":-1})", "application/json");
  ASSERT_TRUE(r);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(server.models().loaded().size(), 1u);
}

}  // namespace
}  // namespace hearth::server
