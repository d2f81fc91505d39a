// ModelManager: loads models on first use (name -> GGUF path through a resolver), shares one
// LoadedModel (and so one Engine) between all concurrent requests for it, and unloads a model
// once it has been idle for its keep-alive time. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "engine/loaded_model.h"

namespace hearth::server {

// name -> GGUF path; kNotFound for unknown names.
using ModelResolver = std::function<Result<std::string>(const std::string& name)>;

// Keep-alive: negative = forever, zero = unload as soon as the last request ends.
using KeepAlive = std::chrono::milliseconds;

// Parses Ollama's keep_alive forms: "5m", "1h30m", "10s", "250ms", a bare number of seconds,
// negative values (forever).
Result<KeepAlive> parse_keep_alive(const std::string& text);

struct LoadedModelInfo {
  std::string name;
  std::string path;
  int64_t file_bytes = 0;
  // Memory in use now: the mapped weights file plus the engine's live sequence state and prefix
  // cache (EngineStats::state_bytes + cache_bytes).
  uint64_t memory_bytes = 0;
  int64_t context_length = 0;
  bool forever = false;
  std::chrono::system_clock::time_point expires_at;  // when idle now (meaningless if forever)
};

class ModelManager {
  struct Entry;

 public:
  ModelManager(ModelResolver resolver, engine::EngineOptions engine_options,
               KeepAlive default_keep_alive);
  ~ModelManager();  // unloads everything
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Keeps the model loaded while alive; the keep-alive clock starts when the last lease ends.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    ~Lease() { release(); }
    engine::LoadedModel* operator->() const { return model_.get(); }
    engine::LoadedModel& operator*() const { return *model_; }
    const std::string& name() const;

   private:
    friend class ModelManager;
    void release();
    ModelManager* manager_ = nullptr;
    std::shared_ptr<Entry> entry_;
    std::shared_ptr<engine::LoadedModel> model_;
  };

  // Loads on first use. `keep_alive` (when given) becomes the model's keep-alive from now on.
  Result<Lease> acquire(const std::string& name, std::optional<KeepAlive> keep_alive = {});
  // Unloads now if no request uses it (else when the last one ends). False if not loaded.
  bool unload(const std::string& name);
  std::vector<LoadedModelInfo> loaded() const;
  // Sum over the loaded engines.
  engine::EngineStats engine_stats() const;
  KeepAlive default_keep_alive() const { return default_keep_alive_; }

 private:
  void reap_loop();
  void release(Entry& entry);

  ModelResolver resolver_;
  engine::EngineOptions engine_options_;
  KeepAlive default_keep_alive_;

  mutable std::mutex mutex_;  // guards entries_ and every Entry's active/keep_alive/idle_since
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // by resolved GGUF path
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread reaper_;
};

}  // namespace hearth::server
