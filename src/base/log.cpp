// Logging facade implementation: level filter, timestamped lines to stderr under a mutex.
#include "base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "base/status.h"

namespace hearth::log {
namespace {

Level level_from_env() {
  const char* env = std::getenv("HEARTH_LOG");
  if (!env) return Level::kInfo;
  std::string v(env);
  if (v == "error") return Level::kError;
  if (v == "warn") return Level::kWarn;
  if (v == "debug") return Level::kDebug;
  if (v == "trace") return Level::kTrace;
  return Level::kInfo;
}

std::atomic<int>& level_storage() {
  static std::atomic<int> value{static_cast<int>(level_from_env())};
  return value;
}

const char* level_tag(Level level) {
  switch (level) {
    case Level::kError: return "E";
    case Level::kWarn: return "W";
    case Level::kInfo: return "I";
    case Level::kDebug: return "D";
    case Level::kTrace: return "T";
  }
  return "?";
}

}  // namespace

Level level() { return static_cast<Level>(level_storage().load(std::memory_order_relaxed)); }
void set_level(Level level) { level_storage().store(static_cast<int>(level)); }
bool enabled(Level lvl) { return static_cast<int>(lvl) <= level_storage().load(std::memory_order_relaxed); }

void write(Level lvl, const char* file, int line, const char* fmt, ...) {
  static std::mutex mutex;
  va_list args;
  va_start(args, fmt);
  std::string msg = str_vformat(fmt, args);
  va_end(args);
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  using namespace std::chrono;
  auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "%s %lld.%03lld %s:%d] %s\n", level_tag(lvl),
               static_cast<long long>(now / 1000 % 100000), static_cast<long long>(now % 1000), base,
               line, msg.c_str());
}

}  // namespace hearth::log
