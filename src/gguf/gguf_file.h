// GgufFile: a validated, read-only view of a GGUF v2/v3 file (metadata + tensor infos), with
// tensor data exposed zero-copy from the memory map. Every count, offset, size and string
// length is checked against the file size before use; bad files give kCorruptData /
// kUnsupported with a message naming the problem and its byte offset.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "tensor/dtype.h"

namespace hearth::gguf {

// GGUF metadata value types (gguf.h).
enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
const char* value_type_name(ValueType type);

// One metadata value. Scalars are stored widened; arrays hold their elements (nested arrays
// allowed). Large arrays (token lists: 250K strings) are materialised once at open.
struct Value {
  ValueType type = ValueType::kUint8;
  uint64_t u = 0;      // unsigned integers and bool
  int64_t i = 0;       // signed integers
  double f = 0;        // floats
  std::string str;     // kString
  ValueType array_type = ValueType::kUint8;  // kArray: element type
  std::vector<Value> array;                  // kArray: elements

  bool is_integer() const;
  bool is_float() const { return type == ValueType::kFloat32 || type == ValueType::kFloat64; }
  // Numeric value as the requested kind; nullopt when the type does not convert losslessly
  // (e.g. a negative int as unsigned, a float as integer).
  std::optional<uint64_t> as_u64() const;
  std::optional<int64_t> as_i64() const;
  std::optional<double> as_f64() const;  // any integer or float
  std::optional<bool> as_bool() const;
  // Short human-readable rendering (arrays abbreviated), for `gguf info`.
  std::string to_display_string(size_t max_array_items = 8) const;
};

struct TensorInfo {
  std::string name;
  DType type = DType::kF32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is the contiguous (fastest) dimension
  uint64_t offset = 0;           // relative to the data section
  uint64_t n_elements = 0;
  size_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping (or memory buffer)
};

class GgufFile {
 public:
  // Maps and validates a file.
  static Result<GgufFile> open(const std::string& path);
  // Validates an in-memory image (the caller keeps `data` alive). Used by tests and the fuzzer.
  static Result<GgufFile> from_memory(const uint8_t* data, size_t size);

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  size_t file_size() const { return size_; }
  const std::string& path() const { return path_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;

  // Typed getters: not-found / wrong-type errors name the key and the found type.
  Result<std::string> get_string(std::string_view key) const;
  Result<uint64_t> get_u64(std::string_view key) const;  // any non-negative integer type
  Result<int64_t> get_i64(std::string_view key) const;   // any integer type that fits
  Result<double> get_f64(std::string_view key) const;    // any integer or float type
  Result<bool> get_bool(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;
  Result<std::vector<double>> get_float_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

  // Releases the resident pages of [p, p + n) of the mapping (MappedFile::advise_dontneed); the
  // data stays readable (faulted in again from the file). No-op for in-memory files.
  void release_pages(const void* p, size_t n) const;

 private:
  std::shared_ptr<MappedFile> mapping_;  // null for from_memory
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorInfo> tensors_;

  friend class Parser;
};

}  // namespace hearth::gguf
