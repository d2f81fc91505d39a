// POST /api/pull against an in-process mock of the Ollama registry (cpp-httplib on a free
// loopback port): the server is wired to a real ModelStore in a temp dir, as `hearth serve` does.
// Covers streamed NDJSON progress, stream:false, unknown models (404 before any 200) and an
// unreachable registry.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/server.h"
#include "store/manifest.h"
#include "store/model_store.h"
#include "store/sha256.h"

namespace hearth::server {
namespace {

using Json = nlohmann::json;

class MockRegistry {
 public:
  MockRegistry() {
    http_.Get(R"(/v2/([^/]+)/([^/]+)/manifests/([^/]+))", [this](const httplib::Request& req,
                                                                 httplib::Response& res) {
      std::string key = std::string(req.matches[1]) + "/" + std::string(req.matches[2]) + ":" +
                        std::string(req.matches[3]);
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = files_.find(key);
      if (it == files_.end()) {
        res.status = 404;
        res.set_content(R"({"errors":[{"code":"MANIFEST_UNKNOWN"}]})", "application/json");
        return;
      }
      res.set_content(it->second, store::kManifestMediaType);
    });
    http_.Get(R"(/v2/([^/]+)/([^/]+)/blobs/(sha256:[0-9a-f]+))",
              [this](const httplib::Request& req, httplib::Response& res) {
                std::lock_guard<std::mutex> lock(mutex_);
                auto it = files_.find(req.matches[3]);
                if (it == files_.end()) {
                  res.status = 404;
                  return;
                }
                res.set_content(it->second, "application/octet-stream");
              });
    port_ = http_.bind_to_any_port("127.0.0.1");
    EXPECT_GT(port_, 0);
    thread_ = std::thread([this] { http_.listen_after_bind(); });
  }
  ~MockRegistry() {
    http_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Publishes library/<model>:<tag> with a config and a model blob.
  void publish(const std::string& repo_tag, const std::string& model_bytes) {
    std::string config = R"({"model_format":"gguf","model_family":"qwen35"})";
    store::Manifest m;
    m.config = {store::kConfigMediaType, digest(config), config.size()};
    m.layers.push_back({store::kModelMediaType, digest(model_bytes), model_bytes.size()});
    std::lock_guard<std::mutex> lock(mutex_);
    files_[repo_tag] = store::serialize_manifest(m);
    files_[digest(config)] = config;
    files_[digest(model_bytes)] = model_bytes;
  }
  static std::string digest(const std::string& bytes) {
    return "sha256:" + store::sha256_hex(bytes);
  }

 private:
  httplib::Server http_;
  std::thread thread_;
  int port_ = -1;
  std::mutex mutex_;
  std::map<std::string, std::string> files_;  // manifest key or digest -> bytes
};

class PullServer : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("hearth_pull_test_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    store_ = std::make_shared<store::ModelStore>(root_.string());
    model_bytes_.assign(3 << 20, '\0');  // 3 MiB: several progress reports
    for (size_t i = 0; i < model_bytes_.size(); ++i)
      model_bytes_[i] = static_cast<char>((i * 131) ^ (i >> 9));
    registry_.publish("library/qwen3.5:0.8b", model_bytes_);

    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.http_threads = 4;
    o.resolve_model = [](const std::string& name) -> Result<std::string> {
      return not_found_error("no model '" + name + "'");
    };
    o.pull_model = [store = store_, url = registry_url()](
                       const std::string& name,
                       const std::function<void(const PullUpdate&)>& progress,
                       const std::function<bool()>& cancelled) -> Status {
      HEARTH_ASSIGN_OR_RETURN(store::ModelName parsed, store::parse_model_name(name));
      store::PullOptions po;
      po.registry_url = *url;
      po.connect_timeout_s = 5;
      po.low_speed_time_s = 5;
      po.progress = [&progress](const store::PullProgress& p) {
        progress(PullUpdate{p.status, p.digest, p.total, p.completed});
      };
      po.cancelled = cancelled;
      return store->pull(parsed, po);
    };
    server_ = std::make_unique<Server>(o);
    ASSERT_TRUE(server_->start().is_ok());
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(root_);
  }
  std::shared_ptr<std::string> registry_url() {
    if (!url_) url_ = std::make_shared<std::string>(registry_.url());
    return url_;
  }
  httplib::Result pull(const Json& body) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(60);
    return c.Post("/api/pull", body.dump(), "application/json");
  }
  bool installed(const std::string& name) {
    auto parsed = store::parse_model_name(name);
    return parsed.is_ok() && store_->resolve(*parsed).is_ok();
  }

  std::filesystem::path root_;
  MockRegistry registry_;
  std::shared_ptr<std::string> url_;
  std::shared_ptr<store::ModelStore> store_;
  std::string model_bytes_;
  std::unique_ptr<Server> server_;
};

TEST_F(PullServer, StreamsNdjsonProgressThenSuccess) {
  auto r = pull({{"model", "qwen3.5:0.8b"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  std::vector<Json> lines;
  size_t pos = 0;
  while (pos < r->body.size()) {
    size_t end = r->body.find('\n', pos);
    ASSERT_NE(end, std::string::npos) << "unterminated line";
    lines.push_back(Json::parse(r->body.substr(pos, end - pos)));
    pos = end + 1;
  }
  ASSERT_GE(lines.size(), 3u) << r->body;
  EXPECT_EQ(lines.front()["status"], "pulling manifest");
  EXPECT_EQ(lines.back(), Json({{"status", "success"}}));
  bool saw_model_blob = false, saw_verify = false;
  uint64_t last_completed = 0;
  for (const Json& l : lines) {
    EXPECT_FALSE(l.contains("error")) << l.dump();
    if (l["status"] == "verifying sha256 digest") saw_verify = true;
    if (l.value("digest", "") == MockRegistry::digest(model_bytes_)) {
      saw_model_blob = true;
      EXPECT_EQ(l["total"], model_bytes_.size());
      uint64_t completed = l["completed"];
      EXPECT_LE(completed, model_bytes_.size());
      if (l["status"].get<std::string>().rfind("pulling ", 0) == 0) {
        EXPECT_GE(completed, last_completed) << "progress went backwards";
        last_completed = completed;
      }
    }
  }
  EXPECT_TRUE(saw_model_blob) << r->body;
  EXPECT_TRUE(saw_verify) << r->body;
  EXPECT_TRUE(installed("qwen3.5:0.8b"));
}

TEST_F(PullServer, NonStreamedAnswersOneObject) {
  auto r = pull({{"model", "qwen3.5:0.8b"}, {"stream", false}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Json::parse(r->body), Json({{"status", "success"}}));
  EXPECT_TRUE(installed("qwen3.5:0.8b"));
  // `name` is the older spelling of `model`; pulling again is a no-op success.
  r = pull({{"name", "qwen3.5:0.8b"}, {"stream", false}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(PullServer, UnknownModelIs404EvenWhenStreamed) {
  for (bool stream : {true, false}) {
    auto r = pull({{"model", "qwen3.5:404b"}, {"stream", stream}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << r->body;
    Json j = Json::parse(r->body);
    ASSERT_TRUE(j["error"].is_string()) << r->body;
    EXPECT_FALSE(j["error"].get<std::string>().empty());
  }
  EXPECT_FALSE(installed("qwen3.5:404b"));
}

TEST_F(PullServer, BadRequestsAndUnreachableRegistry) {
  auto r = pull(Json::object());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_TRUE(Json::parse(r->body)["error"].is_string());
  r = pull({{"model", "qwen3.5:0.8b"}, {"stream", "yes"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  *registry_url() = "http://127.0.0.1:1";  // nothing listens on port 1
  r = pull({{"model", "qwen3.5:0.8b"}});
  ASSERT_TRUE(r);
  EXPECT_GE(r->status, 500) << r->body;
  EXPECT_TRUE(Json::parse(r->body)["error"].is_string()) << r->body;
  EXPECT_FALSE(installed("qwen3.5:0.8b"));
}

}  // namespace
}  // namespace hearth::server
