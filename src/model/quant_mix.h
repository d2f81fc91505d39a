// Whole-file quantisation types (llama.cpp's names and general.file_type values) and the
// per-tensor type choice of llama-quantize for them: one rule set shared by the synthetic model
// generator and `hearth quantize` / `hearth convert`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/dtype.h"

namespace hearth::model {

// Whole-file type as llama.cpp names it; per-tensor types follow plan_tensor_types.
enum class FileType { kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K_M, kQ6_K };
std::optional<FileType> file_type_from_name(std::string_view name);  // "q4_k_m", "f16", ...
const char* file_type_name(FileType type);
uint32_t llama_ftype(FileType type);  // general.file_type value
DType file_type_base(FileType type);  // the type of an ordinary weight matrix (Q4_K for q4_k_m)

struct TensorDesc {
  std::string name;
  std::vector<int64_t> ne;   // ggml order
  DType type = DType::kF32;  // current type (kept for tensors that are never quantised)
};

// Output type of each tensor, like llama-quantize for `type`: 1-D tensors, norms, ssm_conv1d and
// the MoE router stay as they are (F32); output.weight (token_embd.weight when tied) is Q6_K for
// q4_0/q4_k_m; q4_k_m raises attn_v and ffn_down(_exps/_shexp) to Q6_K in "more-bits" layers
// and the GDN attn_qkv to Q5_K; a row length that is not a block multiple falls back
// (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16). n_layer is the block count.
std::vector<DType> plan_tensor_types(FileType type, const std::vector<TensorDesc>& tensors,
                                     int64_t n_layer);

}  // namespace hearth::model
