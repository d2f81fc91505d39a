// `hearth quantize`: re-encodes every tensor of a GGUF with llama-quantize's per-tensor type
// choice for a file type (q4_k_m mixing, q8_0, q4_0, q6_k, f16, bf16, f32), copying all
// metadata. Tensors are streamed (dequantise -> quantise row by row), never held whole.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/synthetic.h"
#include "tensor/dtype.h"

namespace hearth::convert {

using model::FileType;

// Called after each tensor is written: tensors done, tensor count, the tensor's name.
using ProgressFn = std::function<void(int64_t done, int64_t total, const std::string& name)>;

struct TensorDesc {
  std::string name;
  std::vector<int64_t> ne;   // ggml order
  DType type = DType::kF32;  // current type (kept for tensors that are never quantised)
};

// Output type of each tensor, like llama-quantize for `type`: 1-D tensors, ssm_conv1d and the
// MoE router stay as they are (F32); output.weight (token_embd.weight when tied) is Q6_K for
// q4_0/q4_k_m; q4_k_m raises attn_v and ffn_down(_exps/_shexp) to Q6_K in "more-bits" layers
// and the GDN attn_qkv to Q5_K; a row length that is not a block multiple falls back
// (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16). n_layer is the block count.
std::vector<DType> plan_tensor_types(FileType type, const std::vector<TensorDesc>& tensors,
                                     int64_t n_layer);

// Re-encodes `rows` rows of `cols` elements from src_type to dst_type (a byte copy when the
// types match), in parallel over rows.
Status convert_rows(DType src_type, const uint8_t* src, DType dst_type, uint8_t* dst, int64_t cols,
                    int64_t rows, ThreadPool& pool);

Status quantize_model(const std::string& in, const std::string& out, FileType type,
                      ThreadPool& pool, ProgressFn progress = {});

}  // namespace hearth::convert
