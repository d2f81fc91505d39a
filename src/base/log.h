// Logging facade: one place that decides level, format and destination (stderr).
// Level comes from HEARTH_LOG (error|warn|info|debug|trace), default info.
#pragma once

#include <cstdarg>

namespace hearth::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

Level level();
void set_level(Level level);
bool enabled(Level level);
void write(Level level, const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

}  // namespace hearth::log

#define HEARTH_LOG_AT(lvl, ...)                                                    \
  do {                                                                             \
    if (::hearth::log::enabled(lvl)) ::hearth::log::write(lvl, __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define LOG_ERROR(...) HEARTH_LOG_AT(::hearth::log::Level::kError, __VA_ARGS__)
#define LOG_WARN(...) HEARTH_LOG_AT(::hearth::log::Level::kWarn, __VA_ARGS__)
#define LOG_INFO(...) HEARTH_LOG_AT(::hearth::log::Level::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) HEARTH_LOG_AT(::hearth::log::Level::kDebug, __VA_ARGS__)
#define LOG_TRACE(...) HEARTH_LOG_AT(::hearth::log::Level::kTrace, __VA_ARGS__)
