// Server: the OpenAI- and Ollama-compatible HTTP API (cpp-httplib). HTTP threads parse the JSON
// body, render the chat and tokenise, then hand a native engine::Request to the model's Engine;
// they read its events and write the response (SSE / NDJSON when streaming). Models are loaded
// on first use and shared through a ModelManager.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "server/model_manager.h"

namespace hearth::server {

struct ModelListing {
  std::string name;
  std::string path;
  int64_t size_bytes = 0;
  int64_t modified_unix = 0;  // seconds
};

// One progress report of a pull, in the shape of Ollama's /api/pull lines.
struct PullUpdate {
  std::string status;  // "pulling manifest", "pulling <digest12>", "verifying sha256 digest", ...
  std::string digest;  // set while a blob downloads
  uint64_t total = 0;
  uint64_t completed = 0;
};
// Downloads `name` into the model store; `progress` may be called from the calling thread only;
// `cancelled` is polled (true: stop, kCancelled).
using PullFn = std::function<Status(const std::string& name,
                                    const std::function<void(const PullUpdate&)>& progress,
                                    const std::function<bool()>& cancelled)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 11434;     // 0: any free port (see Server::port())
  std::string api_key;  // non-empty: "Authorization: Bearer <key>" required
  KeepAlive keep_alive = std::chrono::minutes(5);
  engine::EngineOptions engine;
  size_t max_body_bytes = size_t{16} << 20;
  int http_threads = 32;
  ModelResolver resolve_model;                             // required
  std::function<std::vector<ModelListing>()> list_models;  // optional (/api/tags, /v1/models)
  std::function<Status(const std::string&)> delete_model;  // optional (DELETE /api/delete)
  PullFn pull_model;                                       // optional (POST /api/pull)
  // Test hook: when set, every generation runs under a fresh constraint from it (the engine's
  // structured-output mechanism), so tests can script the sampled tokens (tool calls, thinking)
  // through the real engine, parser and response code. Never set by `hearth serve`.
  std::function<std::unique_ptr<sampling::TokenConstraint>()> constraint_for_testing;

  // Reads HEARTH_HOST ("0.0.0.0:8080", "host", ":8080"), HEARTH_API_KEY, HEARTH_KEEP_ALIVE.
  Status apply_environment();
};

// "0.0.0.0:8080" / "localhost" / ":8080" / "http://h:p" -> host, port (default port kept).
Status parse_host_port(const std::string& text, std::string* host, int* port);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stops serving and unloads every model
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket (port 0 picks a free one).
  Status bind();
  // Serves on the calling thread until stop(). Binds first if needed.
  Status serve();
  // bind() + serve() on a background thread.
  Status start();
  void stop();
  int port() const { return bound_port_; }
  const ServerOptions& options() const { return options_; }
  ModelManager& models() { return *models_; }

  struct Impl;

 private:
  ServerOptions options_;
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<Impl> impl_;
  int bound_port_ = 0;
  std::thread thread_;
};

}  // namespace hearth::server
