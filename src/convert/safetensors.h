// Safetensors (Hugging Face) reader and writer: one file or a sharded folder with
// model.safetensors.index.json. Headers are validated against the file size (offsets inside the
// data section, sizes equal to shape x element size, no overlaps); only the float dtypes
// Qwen3.5 checkpoints use (BF16, F16, F32) are accepted. The writer exists for tests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"

namespace hearth::convert {

enum class StDType { kF32, kF16, kBF16 };
const char* st_dtype_name(StDType type);  // "F32", "F16", "BF16"
size_t st_dtype_size(StDType type);

struct StTensor {
  std::string name;
  StDType dtype = StDType::kF32;
  std::vector<int64_t> shape;     // PyTorch order: shape.back() is the contiguous dimension
  const uint8_t* data = nullptr;  // into the mapping of its shard
  size_t n_bytes = 0;
  int64_t n_elements() const;
};

// One .safetensors file, mapped read-only.
class SafetensorsFile {
 public:
  static Result<SafetensorsFile> open(const std::string& path);
  const std::vector<StTensor>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }

 private:
  std::shared_ptr<MappedFile> mapping_;
  std::string path_;
  std::vector<StTensor> tensors_;
};

// All tensors of a Hugging Face model folder: the shards named by model.safetensors.index.json,
// else model.safetensors, else every *.safetensors file in the folder.
class SafetensorsModel {
 public:
  static Result<SafetensorsModel> open_dir(const std::string& dir);
  const StTensor* find(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  size_t size() const { return by_name_.size(); }

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const StTensor*> by_name_;
};

// Converts a tensor's elements to float32 (out: [n_elements]).
void st_to_f32(const StTensor& t, float* out);

// ---- writer (tests build small Hugging Face folders with it) ----
struct StWriteTensor {
  std::string name;
  StDType dtype = StDType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // [product(shape) * element size], little-endian
};
// Encodes float values as `dtype` (BF16/F16 round to nearest even).
StWriteTensor make_st_tensor(const std::string& name, StDType dtype, std::vector<int64_t> shape,
                             const std::vector<float>& values);
Status write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors);
// Writes model.safetensors.index.json mapping each tensor name to its shard file name.
Status write_safetensors_index(const std::string& dir,
                               const std::map<std::string, std::string>& weight_map);

}  // namespace hearth::convert
