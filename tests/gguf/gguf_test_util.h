// Test helpers for GGUF: a raw little-endian byte builder (for files the writer refuses to make)
// and deep equality of metadata values.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace hearth::gguf::testing {

class RawGguf {
 public:
  template <typename T>
  RawGguf& pod(T v) {
    size_t at = bytes.size();
    bytes.resize(at + sizeof(T));
    std::memcpy(bytes.data() + at, &v, sizeof(T));
    return *this;
  }
  RawGguf& u32(uint32_t v) { return pod(v); }
  RawGguf& u64(uint64_t v) { return pod(v); }
  RawGguf& str(const std::string& s) {
    u64(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  RawGguf& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    bytes.insert(bytes.end(), {'G', 'G', 'U', 'F'});
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  RawGguf& kv_string(const std::string& key, const std::string& value) {
    return str(key).u32(static_cast<uint32_t>(ValueType::kString)).str(value);
  }
  RawGguf& kv_u32(const std::string& key, uint32_t value) {
    return str(key).u32(static_cast<uint32_t>(ValueType::kUint32)).u32(value);
  }
  RawGguf& tensor_info(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type,
                       uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t n : ne) u64(n);
    return u32(type).u64(offset);
  }
  RawGguf& pad(size_t alignment) {
    bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, 0);
    return *this;
  }
  RawGguf& fill(size_t n, uint8_t byte) {
    bytes.resize(bytes.size() + n, byte);
    return *this;
  }
  std::vector<uint8_t> bytes;
};

inline bool values_equal(const Value& a, const Value& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case ValueType::kString:
      return a.str == b.str;
    case ValueType::kFloat32:
    case ValueType::kFloat64:
      return std::memcmp(&a.f, &b.f, sizeof(double)) == 0;
    case ValueType::kArray:
      if (a.array_type != b.array_type || a.array.size() != b.array.size()) return false;
      for (size_t k = 0; k < a.array.size(); ++k) {
        if (!values_equal(a.array[k], b.array[k])) return false;
      }
      return true;
    default:
      return a.u == b.u && a.i == b.i;
  }
}

}  // namespace hearth::gguf::testing
