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
#include "model/quant_mix.h"
#include "tensor/dtype.h"

namespace hearth::convert {

using model::FileType;

// Called after each tensor is written: tensors done, tensor count, the tensor's name.
using ProgressFn = std::function<void(int64_t done, int64_t total, const std::string& name)>;

// The per-tensor type choice is model::plan_tensor_types (model/quant_mix.h), shared with the
// synthetic model generator.
using model::plan_tensor_types;
using model::TensorDesc;

// Re-encodes `rows` rows of `cols` elements from src_type to dst_type (a byte copy when the
// types match), in parallel over rows.
Status convert_rows(DType src_type, const uint8_t* src, DType dst_type, uint8_t* dst, int64_t cols,
                    int64_t rows, ThreadPool& pool);

Status quantize_model(const std::string& in, const std::string& out, FileType type,
                      ThreadPool& pool, ProgressFn progress = {});

}  // namespace hearth::convert
