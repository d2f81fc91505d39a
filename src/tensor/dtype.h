// DType: element/block types with ggml's ids and block layouts, so community GGUF files load.
// Block structs themselves live in tensor/blocks.h; this header is the type table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

// Values are ggml's `enum ggml_type` ids (the ids stored in GGUF tensor infos).
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

struct DTypeTraits {
  const char* name;       // ggml's name: "f32", "q4_K", ...
  int64_t block_size;     // elements per block (1 for plain types)
  size_t type_size;       // bytes per block
  bool is_quantized;
  bool supported;         // hearth can dequantise it
};

// Traits for a known ggml type id; nullopt for ids ggml never assigned.
std::optional<DTypeTraits> dtype_traits(uint32_t type_id);
const DTypeTraits& traits(DType type);  // type must be known
inline const char* dtype_name(DType type) { return traits(type).name; }
// Case-insensitive lookup by ggml name ("q4_k", "Q8_0", "bf16").
std::optional<DType> dtype_from_name(std::string_view name);

inline int64_t block_size(DType type) { return traits(type).block_size; }
inline size_t type_size(DType type) { return traits(type).type_size; }
// Bytes of one row of n elements; n must be a multiple of block_size(type).
inline size_t row_bytes(DType type, int64_t n) {
  return static_cast<size_t>(n / block_size(type)) * type_size(type);
}

}  // namespace hearth
