// ModelManager: lazy loading, sharing and keep-alive unloading of served models.
#include "server/model_manager.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "base/log.h"

namespace hearth::server {

struct ModelManager::Entry {
  std::string name;
  std::mutex load_mutex;  // held while loading, so concurrent first requests load once
  // Below: guarded by ModelManager::mutex_.
  std::shared_ptr<engine::LoadedModel> model;
  int active = 0;  // live leases
  KeepAlive keep_alive{0};
  std::chrono::steady_clock::time_point idle_since;
  std::chrono::system_clock::time_point idle_since_wall;
  int64_t file_bytes = 0;
};

Result<KeepAlive> parse_keep_alive(const std::string& text_in) {
  std::string text;
  for (char c : text_in)
    if (!std::isspace(static_cast<unsigned char>(c))) text += c;
  if (text.empty()) return invalid_argument_error("keep_alive is empty");
  bool negative = text[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i >= text.size()) return invalid_argument_error("invalid keep_alive '" + text_in + "'");
  double total_ms = 0;
  bool any_unit = false;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (start == i) return invalid_argument_error("invalid keep_alive '" + text_in + "'");
    double number = 0;
    try {
      number = std::stod(text.substr(start, i - start));
    } catch (...) {
      return invalid_argument_error("invalid keep_alive '" + text_in + "'");
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(unit_start, i - unit_start);
    double scale;
    if (unit.empty()) {
      if (any_unit || i != text.size())
        return invalid_argument_error("invalid keep_alive '" + text_in + "'");
      scale = 1000;  // bare number: seconds
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60e3;
    } else if (unit == "h") {
      scale = 3600e3;
    } else {
      return invalid_argument_error("invalid keep_alive unit '" + unit + "' in '" + text_in + "'");
    }
    any_unit = any_unit || !unit.empty();
    total_ms += number * scale;
  }
  if (total_ms > 1e15) total_ms = 1e15;
  auto ms = KeepAlive(static_cast<int64_t>(total_ms));
  return negative ? KeepAlive(-1) : ms;
}

ModelManager::ModelManager(ModelResolver resolver, engine::EngineOptions engine_options,
                           KeepAlive default_keep_alive)
    : resolver_(std::move(resolver)),
      engine_options_(engine_options),
      default_keep_alive_(default_keep_alive) {
  reaper_ = std::thread([this] { reap_loop(); });
}

ModelManager::~ModelManager() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  reaper_.join();
  std::map<std::string, std::shared_ptr<Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    entries.swap(entries_);
  }
  entries.clear();  // engines join their threads here, outside the lock
}

ModelManager::Lease& ModelManager::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    manager_ = other.manager_;
    entry_ = std::move(other.entry_);
    model_ = std::move(other.model_);
    other.manager_ = nullptr;
  }
  return *this;
}

const std::string& ModelManager::Lease::name() const {
  return entry_->name;
}

void ModelManager::Lease::release() {
  if (manager_ && entry_) manager_->release(*entry_);
  model_.reset();
  entry_.reset();
  manager_ = nullptr;
}

void ModelManager::release(Entry& entry) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--entry.active == 0) {
      entry.idle_since = std::chrono::steady_clock::now();
      entry.idle_since_wall = std::chrono::system_clock::now();
    }
  }
  wake_.notify_all();
}

Result<ModelManager::Lease> ModelManager::acquire(const std::string& name,
                                                  std::optional<KeepAlive> keep_alive) {
  // Entries are keyed by file, so aliases of one GGUF ("m", "m:latest", a path) share one copy.
  auto path = resolver_(name);
  if (!path.is_ok()) return path.status();
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = entries_[path.value()];
    if (!slot) {
      slot = std::make_shared<Entry>();
      slot->name = name;
      slot->keep_alive = default_keep_alive_;
    }
    entry = slot;
    ++entry->active;
    if (keep_alive) entry->keep_alive = *keep_alive;
  }
  Lease lease;
  lease.manager_ = this;
  lease.entry_ = entry;  // from here on the lease releases `active` on every path
  std::lock_guard<std::mutex> load_lock(entry->load_mutex);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lease.model_ = entry->model;
  }
  if (!lease.model_) {
    LOG_INFO("loading model '%s' from %s", name.c_str(), path.value().c_str());
    auto loaded = engine::load_model(path.value(), engine_options_);
    if (!loaded.is_ok()) {
      // The name resolved, so a missing or bad file is a server-side problem, not a 404.
      Status s = loaded.status();
      if (s.code() == ErrorCode::kNotFound) s = Status(ErrorCode::kIo, s.message());
      return s.with_context("model '" + name + "'");
    }
    std::shared_ptr<engine::LoadedModel> model(std::move(loaded).value());
    struct stat st {};
    int64_t bytes = ::stat(model->path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
    std::lock_guard<std::mutex> lock(mutex_);
    entry->model = model;
    entry->file_bytes = bytes;
    lease.model_ = std::move(model);
  }
  return lease;
}

bool ModelManager::unload(const std::string& name) {
  auto path = resolver_(name);
  if (!path.is_ok()) return false;
  std::shared_ptr<engine::LoadedModel> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(path.value());
    if (it == entries_.end() || !it->second->model) return false;
    it->second->keep_alive = KeepAlive(0);
    if (it->second->active == 0) dropped = std::move(it->second->model);
  }
  wake_.notify_all();
  return true;
}

std::vector<LoadedModelInfo> ModelManager::loaded() const {
  std::vector<LoadedModelInfo> out;
  std::vector<std::shared_ptr<engine::LoadedModel>> models;  // parallel to `out`
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto now_wall = std::chrono::system_clock::now();
    for (const auto& [path, entry] : entries_) {
      if (!entry->model) continue;
      LoadedModelInfo info;
      info.name = entry->name;
      info.path = entry->model->path;
      info.file_bytes = entry->file_bytes;
      info.context_length = entry->model->engine->context_length();
      info.forever = entry->keep_alive.count() < 0;
      auto base = entry->active > 0 ? now_wall : entry->idle_since_wall;
      info.expires_at = base + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                   std::max(entry->keep_alive, KeepAlive(0)));
      out.push_back(std::move(info));
      models.push_back(entry->model);
    }
  }
  // Engine stats take the engine's own lock: read them without holding mutex_.
  for (size_t i = 0; i < out.size(); ++i) {
    engine::EngineStats s = models[i]->engine->stats();
    out[i].memory_bytes = static_cast<uint64_t>(std::max<int64_t>(out[i].file_bytes, 0)) +
                          s.state_bytes + s.cache_bytes;
  }
  return out;
}

engine::EngineStats ModelManager::engine_stats() const {
  std::vector<std::shared_ptr<engine::LoadedModel>> models;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [name, entry] : entries_)
      if (entry->model) models.push_back(entry->model);
  }
  engine::EngineStats total;
  for (const auto& m : models) {
    engine::EngineStats s = m->engine->stats();
    total.running += s.running;
    total.waiting += s.waiting;
    total.requests_finished += s.requests_finished;
    total.prefix_hits += s.prefix_hits;
    total.prefix_misses += s.prefix_misses;
    total.prompt_tokens += s.prompt_tokens;
    total.prompt_tokens_cached += s.prompt_tokens_cached;
    total.prefill_tokens += s.prefill_tokens;
    total.generated_tokens += s.generated_tokens;
    total.steps += s.steps;
    total.cache_bytes += s.cache_bytes;
    total.cache_entries += s.cache_entries;
    total.state_bytes += s.state_bytes;
  }
  return total;
}

void ModelManager::reap_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    std::vector<std::shared_ptr<engine::LoadedModel>> dropped;
    auto now = std::chrono::steady_clock::now();
    for (auto& [name, entry] : entries_) {
      if (!entry->model || entry->active > 0 || entry->keep_alive.count() < 0) continue;
      if (now - entry->idle_since >= entry->keep_alive) {
        LOG_INFO("unloading model '%s' (idle)", entry->name.c_str());
        dropped.push_back(std::move(entry->model));
        entry->model.reset();
      }
    }
    if (!dropped.empty()) {
      lock.unlock();
      dropped.clear();  // joins engine threads without holding the lock
      lock.lock();
      continue;
    }
    wake_.wait_for(lock, std::chrono::milliseconds(250));
  }
}

}  // namespace hearth::server
