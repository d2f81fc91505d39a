// Status and Result<T>: the one error type used across every layer of hearth.
// Errors carry a code and a human-readable message that names the problem (and, for file
// formats, the offset). Exceptions are not used for expected failures.
#pragma once

#include <cstdarg>
#include <string>
#include <utility>
#include <variant>

namespace hearth {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,    // caller passed something malformed (bad name, bad JSON value, ...)
  kNotFound,           // file, model, tensor or key does not exist
  kIo,                 // read/write/mmap failure from the OS
  kCorruptData,        // a file violates its format (truncated GGUF, bad offsets, ...)
  kUnsupported,        // valid but not supported (unknown architecture, quant type, ...)
  kOutOfRange,         // a value exceeds a limit (prompt longer than context, ...)
  kResourceExhausted,  // out of memory, disk full, queue full
  kCancelled,          // the request was cancelled
  kAlreadyExists,
  kUnavailable,        // transient: try again later
  kInternal,           // a bug in hearth
};

const char* error_code_name(ErrorCode code);

// printf-style formatting into a std::string.
std::string str_format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string str_vformat(const char* fmt, va_list args);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == ErrorCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt data: tensor 'x' extends past end of file (offset 1234)"
  std::string to_string() const;

  // Returns a copy with "context: " prefixed to the message.
  Status with_context(const std::string& context) const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// Convenience constructors with printf-style messages.
Status make_error(ErrorCode code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
#define HEARTH_ERROR_CTOR(name, code)                                              \
  inline Status name(const std::string& msg) { return Status(ErrorCode::code, msg); }
HEARTH_ERROR_CTOR(invalid_argument_error, kInvalidArgument)
HEARTH_ERROR_CTOR(not_found_error, kNotFound)
HEARTH_ERROR_CTOR(io_error, kIo)
HEARTH_ERROR_CTOR(corrupt_data_error, kCorruptData)
HEARTH_ERROR_CTOR(unsupported_error, kUnsupported)
HEARTH_ERROR_CTOR(out_of_range_error, kOutOfRange)
HEARTH_ERROR_CTOR(resource_exhausted_error, kResourceExhausted)
HEARTH_ERROR_CTOR(cancelled_error, kCancelled)
HEARTH_ERROR_CTOR(internal_error, kInternal)
#undef HEARTH_ERROR_CTOR

// Result<T>: either a value or a non-ok Status (std::expected is C++23; this is the subset we use).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT implicit
  Result(Status status) : data_(std::in_place_index<1>, std::move(status)) {  // NOLINT implicit
    if (std::get<1>(data_).is_ok()) {
      data_.template emplace<1>(ErrorCode::kInternal, "Result constructed from an ok Status");
    }
  }

  bool is_ok() const { return data_.index() == 0; }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const {
    static const Status kOkStatus;
    return is_ok() ? kOkStatus : std::get<1>(data_);
  }
  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace hearth

#define HEARTH_CONCAT_INNER(a, b) a##b
#define HEARTH_CONCAT(a, b) HEARTH_CONCAT_INNER(a, b)

// Propagates a non-ok Status out of the current function.
#define HEARTH_RETURN_IF_ERROR(expr)               \
  do {                                             \
    ::hearth::Status hearth_status_ = (expr);      \
    if (!hearth_status_.is_ok()) return hearth_status_; \
  } while (0)

// HEARTH_ASSIGN_OR_RETURN(auto x, make_x()); declares x from a Result or returns its Status.
#define HEARTH_ASSIGN_OR_RETURN(lhs, expr) \
  HEARTH_ASSIGN_OR_RETURN_IMPL(HEARTH_CONCAT(hearth_result_, __LINE__), lhs, expr)
#define HEARTH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
