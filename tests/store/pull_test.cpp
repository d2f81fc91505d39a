// pull against an in-process mock of the Ollama registry and of Hugging Face (cpp-httplib on
// 127.0.0.1, a free port per test): success, skip of present blobs, resume after a dropped
// connection (automatic retry and across runs), checksum mismatch, 404s, connection refused,
// and Hugging Face file resolution by quantisation.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/file_util.h"
#include "store/manifest.h"
#include "store/model_store.h"
#include "store/sha256.h"
#include "store/store_test_util.h"

namespace hearth::store {
namespace {

using testing::count_files;
using testing::read_file;
using testing::TempDir;

struct Request {
  std::string path;
  std::string range;  // Range header, "" if none
};

// A registry + Hugging Face mock. Blobs are served whole or, with Range, from an offset (by
// httplib's own Range support); a blob marked `cut` sends half its bytes and then drops the
// connection, `cut` times.
class MockServer {
 public:
  MockServer() {
    server_.Get(R"(/v2/([^/]+)/([^/]+)/manifests/([^/]+))", [this](const httplib::Request& req,
                                                                   httplib::Response& res) {
      log(req);
      std::string key = std::string(req.matches[1]) + "/" + std::string(req.matches[2]) + ":" +
                        std::string(req.matches[3]);
      std::lock_guard<std::mutex> lock(mu_);
      auto it = manifests_.find(key);
      if (it == manifests_.end()) {
        res.status = 404;
        res.set_content(R"({"errors":[{"code":"MANIFEST_UNKNOWN"}]})", "application/json");
        return;
      }
      res.set_content(it->second, kManifestMediaType);
    });
    server_.Get(R"(/v2/([^/]+)/([^/]+)/blobs/(sha256:[0-9a-f]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  log(req);
                  serve_blob(req.matches[3], res);
                });
    server_.Get(R"(/api/models/([^/]+)/([^/]+))", [this](const httplib::Request& req,
                                                         httplib::Response& res) {
      log(req);
      std::string repo = std::string(req.matches[1]) + "/" + std::string(req.matches[2]);
      std::lock_guard<std::mutex> lock(mu_);
      auto it = hf_listings_.find(repo);
      if (it == hf_listings_.end()) {
        res.status = 404;
        res.set_content(R"({"error":"Repository not found"})", "application/json");
        return;
      }
      res.set_content(it->second, "application/json");
    });
    server_.Get(R"(/([^/]+)/([^/]+)/resolve/main/(.+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  log(req);
                  std::string key = std::string(req.matches[1]) + "/" +
                                    std::string(req.matches[2]) + "/" + std::string(req.matches[3]);
                  serve_blob(key, res);
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    EXPECT_GT(port_, 0);
    // bind_to_any_port already listens: connections queue until the accept loop runs.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~MockServer() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void add_blob(const std::string& key, const std::string& bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    blobs_[key] = bytes;
  }
  void set_cut(const std::string& key, int times) {
    std::lock_guard<std::mutex> lock(mu_);
    cuts_[key] = times;
  }
  void add_manifest(const std::string& repo_and_tag, const std::string& json) {
    std::lock_guard<std::mutex> lock(mu_);
    manifests_[repo_and_tag] = json;
  }
  void add_hf_listing(const std::string& repo, const std::string& json) {
    std::lock_guard<std::mutex> lock(mu_);
    hf_listings_[repo] = json;
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<Request> requests_containing(const std::string& needle) {
    std::vector<Request> out;
    for (const Request& r : requests()) {
      if (r.path.find(needle) != std::string::npos) out.push_back(r);
    }
    return out;
  }

 private:
  void log(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back({req.path, req.get_header_value("Range")});
  }

  void serve_blob(const std::string& key, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blobs_.find(key);
    if (it == blobs_.end()) {
      res.status = 404;
      res.set_content("blob unknown", "text/plain");
      return;
    }
    auto cut = cuts_.find(key);
    if (cut != cuts_.end() && cut->second > 0) {
      --cut->second;
      auto body = std::make_shared<std::string>(it->second);
      // Announce the full length, send the first half, then drop the connection.
      res.set_content_provider(body->size(), "application/octet-stream",
                               [body](size_t offset, size_t length, httplib::DataSink& sink) {
                                 size_t half = body->size() / 2;
                                 if (offset < half) {
                                   sink.write(body->data() + offset,
                                              std::min(length, half - offset));
                                 }
                                 return false;
                               });
      return;
    }
    res.set_content(it->second, "application/octet-stream");
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::mutex mu_;
  std::map<std::string, std::string> blobs_;
  std::map<std::string, int> cuts_;
  std::map<std::string, std::string> manifests_;
  std::map<std::string, std::string> hf_listings_;
  std::vector<Request> requests_;
};

// A loopback port with nothing listening on it.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // never listened: connecting is refused
  return ntohs(addr.sin_port);
}

ModelName name_of(const std::string& text) {
  auto r = parse_model_name(text);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return *r;
}

std::string digest_of(const std::string& bytes) {
  return "sha256:" + sha256_hex(bytes);
}

class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_bytes_ = testing::tiny_gguf_bytes(src_.path(), "qwen35", 11, 64 * 1024);  // ~256 KiB
    config_bytes_ = R"({"model_format":"gguf","model_family":"qwen35"})";
    template_bytes_ = "{{ .Prompt }}";
    Manifest m;
    m.config = {kConfigMediaType, digest_of(config_bytes_), config_bytes_.size()};
    m.layers.push_back({kModelMediaType, digest_of(model_bytes_), model_bytes_.size()});
    m.layers.push_back({"application/vnd.ollama.image.template", digest_of(template_bytes_),
                        template_bytes_.size()});
    manifest_json_ = serialize_manifest(m);
    server_.add_manifest("library/qwen3.5:0.8b", manifest_json_);
    for (const std::string* b : {&model_bytes_, &config_bytes_, &template_bytes_}) {
      server_.add_blob(digest_of(*b), *b);
    }
    options_.registry_url = server_.url();
    options_.hf_endpoint = server_.url();
    options_.connect_timeout_s = 5;
    options_.low_speed_time_s = 5;
    options_.progress = [this](const PullProgress& p) { progress_.push_back(p); };
  }

  std::string partial_dir() const { return store_.root() + "/partial"; }
  bool saw_status(const std::string& status) const {
    for (const PullProgress& p : progress_) {
      if (p.status == status) return true;
    }
    return false;
  }

  TempDir dir_;
  TempDir src_;
  MockServer server_;
  ModelStore store_{dir_.path() + "/models"};
  PullOptions options_;
  std::vector<PullProgress> progress_;
  std::string model_bytes_, config_bytes_, template_bytes_, manifest_json_;
};

TEST_F(PullTest, PullsManifestAndBlobs) {
  Status s = store_.pull(name_of("qwen3.5:0.8b"), options_);
  ASSERT_TRUE(s.is_ok()) << s.message();
  auto resolved = store_.resolve(name_of("qwen3.5:0.8b"));
  ASSERT_TRUE(resolved.is_ok()) << resolved.status().message();
  EXPECT_EQ(read_file(resolved->gguf_path), model_bytes_);
  // The manifest is stored byte for byte, so the ID matches the registry's digest.
  EXPECT_EQ(read_file(store_.manifest_path(name_of("qwen3.5:0.8b"))), manifest_json_);
  EXPECT_EQ(resolved->id, sha256_hex(manifest_json_).substr(0, 12));
  EXPECT_EQ(count_files(store_.root() + "/blobs"), 3);
  EXPECT_EQ(count_files(partial_dir()), 0);
  EXPECT_EQ(count_files(store_.root() + "/tmp"), 0);

  EXPECT_TRUE(saw_status("pulling manifest"));
  EXPECT_TRUE(saw_status("verifying sha256 digest"));
  EXPECT_TRUE(saw_status("writing manifest"));
  ASSERT_FALSE(progress_.empty());
  EXPECT_EQ(progress_.back().status, "success");
  uint64_t model_done = 0;
  for (const PullProgress& p : progress_) {
    if (p.digest == digest_of(model_bytes_)) {
      EXPECT_EQ(p.total, model_bytes_.size());
      EXPECT_LE(p.completed, p.total);
      EXPECT_GE(p.completed, model_done) << "progress never goes backwards";
      model_done = p.completed;
    }
  }
  EXPECT_EQ(model_done, model_bytes_.size());
  for (const Request& r : server_.requests()) EXPECT_EQ(r.range, "") << r.path;

  // Pulling again downloads no blob: they are all present.
  size_t before = server_.requests_containing("/blobs/").size();
  ASSERT_TRUE(store_.pull(name_of("qwen3.5:0.8b"), options_).is_ok());
  EXPECT_EQ(server_.requests_containing("/blobs/").size(), before);

  auto listed = store_.list();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "qwen3.5:0.8b");
  EXPECT_EQ((*listed)[0].size, model_bytes_.size() + config_bytes_.size() + template_bytes_.size());
}

TEST_F(PullTest, ResumesAfterDroppedConnectionWithinOnePull) {
  std::string model_digest = digest_of(model_bytes_);
  server_.set_cut(model_digest, 1);
  Status s = store_.pull(name_of("qwen3.5:0.8b"), options_);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(read_file(store_.resolve(name_of("qwen3.5:0.8b"))->gguf_path), model_bytes_);
  auto reqs = server_.requests_containing("/blobs/" + model_digest);
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].range, "");
  // The retry asks only for the missing bytes.
  ASSERT_EQ(reqs[1].range.rfind("bytes=", 0), 0u) << reqs[1].range;
  uint64_t from = std::stoull(reqs[1].range.substr(6));
  EXPECT_GT(from, 0u);
  EXPECT_LT(from, model_bytes_.size());
  EXPECT_EQ(count_files(partial_dir()), 0);
}

TEST_F(PullTest, InterruptedPullLeavesNothingInstalledAndResumesNextTime) {
  std::string model_digest = digest_of(model_bytes_);
  server_.set_cut(model_digest, 1);
  options_.max_attempts = 1;
  Status s = store_.pull(name_of("qwen3.5:0.8b"), options_);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable) << s.message();
  EXPECT_NE(s.message().find("run the pull again to resume"), std::string::npos) << s.message();
  // Not installed: no manifest, no model blob; the partial download is kept for resume.
  EXPECT_TRUE(store_.list()->empty());
  EXPECT_FALSE(std::filesystem::exists(store_.blob_path(model_digest)));
  EXPECT_EQ(store_.resolve(name_of("qwen3.5:0.8b")).status().code(), ErrorCode::kNotFound);
  std::string partial = partial_dir() + "/" + digest_to_blob_name(model_digest) + ".partial";
  ASSERT_TRUE(std::filesystem::exists(partial));
  uint64_t kept = std::filesystem::file_size(partial);
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, model_bytes_.size());

  Status again = store_.pull(name_of("qwen3.5:0.8b"), options_);
  ASSERT_TRUE(again.is_ok()) << again.message();
  auto reqs = server_.requests_containing("/blobs/" + model_digest);
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].range, "bytes=" + std::to_string(kept) + "-");
  EXPECT_EQ(read_file(store_.resolve(name_of("qwen3.5:0.8b"))->gguf_path), model_bytes_);
  EXPECT_FALSE(std::filesystem::exists(partial));
}

TEST_F(PullTest, ChecksumMismatchInstallsNothingAndDropsThePartial) {
  std::string model_digest = digest_of(model_bytes_);
  std::string tampered = model_bytes_;
  tampered[tampered.size() - 1] ^= 0x5a;
  server_.add_blob(model_digest, tampered);  // same length, different bytes
  Status s = store_.pull(name_of("qwen3.5:0.8b"), options_);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kCorruptData);
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.message();
  EXPECT_TRUE(store_.list()->empty());
  EXPECT_FALSE(std::filesystem::exists(store_.blob_path(model_digest)));
  EXPECT_EQ(count_files(partial_dir()), 0) << "bad bytes are not kept for resume";
  EXPECT_EQ(testing::count_files_recursive(store_.root() + "/manifests"), 0);
}

TEST_F(PullTest, UnknownModelIs404) {
  Status s = store_.pull(name_of("nosuchmodel"), options_);
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.message(), "model 'nosuchmodel:latest' not found in the registry");
  EXPECT_TRUE(store_.list()->empty());
}

TEST_F(PullTest, MissingBlobIs404AndNothingInstalled) {
  Manifest m;
  m.layers.push_back({kModelMediaType, digest_of("not served"), 10});
  server_.add_manifest("library/broken:latest", serialize_manifest(m));
  Status s = store_.pull(name_of("broken"), options_);
  EXPECT_EQ(s.code(), ErrorCode::kNotFound) << s.message();
  EXPECT_TRUE(store_.list()->empty());
  EXPECT_EQ(count_files(partial_dir()), 0);
}

TEST_F(PullTest, ConnectionRefused) {
  options_.registry_url = "http://127.0.0.1:" + std::to_string(closed_port());
  Status s = store_.pull(name_of("qwen3.5:0.8b"), options_);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable);
  EXPECT_NE(s.message().find("network error"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(options_.registry_url), std::string::npos) << s.message();
  EXPECT_TRUE(store_.list()->empty());
}

TEST_F(PullTest, LocalFileHasNothingToPull) {
  EXPECT_EQ(store_.pull(name_of("/x/model.gguf"), options_).code(), ErrorCode::kInvalidArgument);
}

std::string hf_listing(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string json = R"({"id":"owner/Repo-GGUF","siblings":[)";
  for (size_t i = 0; i < files.size(); ++i) {
    if (i) json += ",";
    json += R"({"rfilename":")" + files[i].first + "\"";
    if (!files[i].second.empty()) {
      json += R"(,"size":)" + std::to_string(files[i].second.size()) + R"(,"lfs":{"sha256":")" +
              sha256_hex(files[i].second) + R"(","size":)" +
              std::to_string(files[i].second.size()) + "}";
    }
    json += "}";
  }
  return json + "]}";
}

TEST_F(PullTest, HuggingFacePicksTheQuantFileCaseInsensitively) {
  std::string q8 = testing::tiny_gguf_bytes(src_.path(), "qwen35", 21);
  std::string q4 = testing::tiny_gguf_bytes(src_.path(), "qwen35", 22);
  std::string proj = testing::tiny_gguf_bytes(src_.path(), "clip", 23);
  server_.add_hf_listing("owner/Repo-GGUF", hf_listing({{"README.md", ""},
                                                        {"Repo-Q8_0.gguf", q8},
                                                        {"mmproj-Repo-Q4_K_M.gguf", proj},
                                                        {"Repo-Q4_K_M.gguf", q4}}));
  server_.add_blob("owner/Repo-GGUF/Repo-Q8_0.gguf", q8);
  server_.add_blob("owner/Repo-GGUF/Repo-Q4_K_M.gguf", q4);
  server_.add_blob("owner/Repo-GGUF/mmproj-Repo-Q4_K_M.gguf", proj);

  Status s = store_.pull(name_of("hf.co/owner/Repo-GGUF:q4_k_m"), options_);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(server_.requests_containing("/resolve/main/Repo-Q4_K_M.gguf").size(), 1u);
  EXPECT_TRUE(server_.requests_containing("mmproj").empty());
  auto resolved = store_.resolve(name_of("hf.co/owner/Repo-GGUF:q4_k_m"));
  ASSERT_TRUE(resolved.is_ok()) << resolved.status().message();
  EXPECT_EQ(read_file(resolved->gguf_path), q4);
  auto listed = store_.list();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "hf.co/owner/Repo-GGUF:q4_k_m");

  // Default quantisation is Q4_K_M; the blob is shared with the name above.
  ASSERT_TRUE(store_.pull(name_of("hf.co/owner/Repo-GGUF"), options_).is_ok());
  EXPECT_EQ(store_.resolve(name_of("hf.co/owner/Repo-GGUF"))->gguf_path, resolved->gguf_path);
  EXPECT_EQ(server_.requests_containing("/resolve/main/").size(), 1u) << "already stored";
}

TEST_F(PullTest, HuggingFaceErrors) {
  std::string q8 = testing::tiny_gguf_bytes(src_.path(), "qwen35", 31);
  std::string llama = testing::tiny_gguf_bytes(src_.path(), "llama", 32);
  server_.add_hf_listing("owner/Repo-GGUF", hf_listing({{"Repo-Q8_0.gguf", q8}}));
  server_.add_blob("owner/Repo-GGUF/Repo-Q8_0.gguf", q8);
  server_.add_hf_listing("owner/Llama-GGUF", hf_listing({{"Llama-Q4_K_M.gguf", llama}}));
  server_.add_blob("owner/Llama-GGUF/Llama-Q4_K_M.gguf", llama);

  Status no_quant = store_.pull(name_of("hf.co/owner/Repo-GGUF:Q2_K"), options_);
  EXPECT_EQ(no_quant.code(), ErrorCode::kNotFound);
  EXPECT_NE(no_quant.message().find("Repo-Q8_0.gguf"), std::string::npos) << no_quant.message();

  Status no_repo = store_.pull(name_of("hf.co/owner/Missing"), options_);
  EXPECT_EQ(no_repo.code(), ErrorCode::kNotFound);
  EXPECT_NE(no_repo.message().find("owner/Missing"), std::string::npos) << no_repo.message();

  Status wrong_arch = store_.pull(name_of("hf.co/owner/Llama-GGUF"), options_);
  EXPECT_EQ(wrong_arch.code(), ErrorCode::kUnsupported) << wrong_arch.message();
  EXPECT_TRUE(store_.list()->empty());
  EXPECT_EQ(count_files(store_.root() + "/blobs"), 0) << "the rejected download is removed";
  EXPECT_EQ(count_files(partial_dir()), 0);
}

TEST_F(PullTest, HuggingFaceWithoutListedHashStillVerifiesAndInstalls) {
  std::string q4 = testing::tiny_gguf_bytes(src_.path(), "qwen35", 41);
  server_.add_hf_listing("owner/NoLfs", R"({"siblings":[{"rfilename":"NoLfs-Q4_K_M.gguf"}]})");
  server_.add_blob("owner/NoLfs/NoLfs-Q4_K_M.gguf", q4);
  server_.set_cut("owner/NoLfs/NoLfs-Q4_K_M.gguf", 1);  // resume works without a known digest
  Status s = store_.pull(name_of("hf.co/owner/NoLfs:Q4_K_M"), options_);
  ASSERT_TRUE(s.is_ok()) << s.message();
  auto resolved = store_.resolve(name_of("hf.co/owner/NoLfs:Q4_K_M"));
  ASSERT_TRUE(resolved.is_ok());
  EXPECT_EQ(resolved->gguf_path, store_.blob_path(digest_of(q4)));
  EXPECT_EQ(read_file(resolved->gguf_path), q4);
  auto reqs = server_.requests_containing("/resolve/main/");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(reqs[1].range, "");
  EXPECT_EQ(count_files(partial_dir()), 0);
}

TEST_F(PullTest, ConcurrentDownloadOfTheSameBlobIsRefused) {
  std::filesystem::create_directories(partial_dir());
  std::string partial =
      partial_dir() + "/" + digest_to_blob_name(digest_of(model_bytes_)) + ".partial";
  int fd = ::open(partial.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as another hearth process would
  Status s = store_.pull(name_of("qwen3.5:0.8b"), options_);
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable) << s.message();
  EXPECT_NE(s.message().find("another hearth process"), std::string::npos) << s.message();
  EXPECT_TRUE(store_.list()->empty());
  ::close(fd);
  EXPECT_TRUE(store_.pull(name_of("qwen3.5:0.8b"), options_).is_ok());
}

TEST_F(PullTest, CancelKeepsThePartialForResume) {
  std::string model_digest = digest_of(model_bytes_);
  options_.cancelled = [this, model_digest] {
    for (const PullProgress& p : progress_) {
      if (p.digest == model_digest && p.completed > 0) return true;
    }
    return false;
  };
  Status s = store_.pull(name_of("qwen3.5:0.8b"), options_);
  EXPECT_EQ(s.code(), ErrorCode::kCancelled) << s.message();
  EXPECT_TRUE(store_.list()->empty());
  std::string partial = partial_dir() + "/" + digest_to_blob_name(model_digest) + ".partial";
  ASSERT_TRUE(std::filesystem::exists(partial));
  EXPECT_GT(std::filesystem::file_size(partial), 0u);
  options_.cancelled = nullptr;
  ASSERT_TRUE(store_.pull(name_of("qwen3.5:0.8b"), options_).is_ok());
  EXPECT_EQ(read_file(store_.resolve(name_of("qwen3.5:0.8b"))->gguf_path), model_bytes_);
}

TEST(FileUtil, DiskFullIsResourceExhausted) {
  int fd = ::open("/dev/full", O_WRONLY);
  if (fd < 0) GTEST_SKIP() << "no /dev/full";
  std::string data(4096, 'x');
  Status s = write_all(fd, data.data(), data.size(), "/dev/full");
  ::close(fd);
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(s.message().find("disk full"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace hearth::store
