// GgufWriter: builds a GGUF v3 file (metadata + tensors) the way llama.cpp's writer lays it
// out, so files hearth writes load in llama.cpp. Used by quantize, convert, make-test-model and
// the tests. Tensors are streamed to disk; the file appears atomically (temp + rename).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace hearth::gguf {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}

  // Metadata, in the order added. Adding a key twice replaces the earlier value.
  void set(const std::string& key, Value value);
  void set_string(const std::string& key, const std::string& v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);

  // Adds a tensor; `data` (n_bytes = row_bytes(type, ne[0]) * ne[1] * ne[2] * ne[3]) is copied.
  // Errors on duplicate names, bad shapes or a size mismatch.
  Status add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                    const void* data, size_t n_bytes);
  // Adds a tensor whose bytes are produced during to_bytes()/write_file() by `fill`, called
  // once per serialisation with a buffer of exactly n_bytes (so big models never sit in memory
  // whole). Same validation as add_tensor; a non-ok Status from fill aborts the write.
  using FillFn = std::function<Status(uint8_t* dst, size_t n_bytes)>;
  Status add_tensor_lazy(const std::string& name, DType type, const std::vector<int64_t>& ne,
                         FillFn fill);

  // Serialises to memory (tests) or to a file (atomically).
  Result<std::vector<uint8_t>> to_bytes() const;
  Status write_file(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    size_t n_bytes = 0;
    std::vector<uint8_t> data;  // [n_bytes] for add_tensor; empty when `fill` is set
    FillFn fill;                // add_tensor_lazy
  };
  Status check_new_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                          size_t* n_bytes) const;
  // Streams the whole file through `sink` (header, metadata, infos, padded data).
  Status serialize(const std::function<Status(const uint8_t*, size_t)>& sink) const;
  uint32_t alignment_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace hearth::gguf
