// Per-tensor type choice (llama-quantize's rules for the file types hearth writes) and the
// streaming GGUF -> GGUF re-encoder.
#include "convert/quantize.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/quant.h"

namespace hearth::convert {

namespace {

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

// Layer index from "blk.N.", -1 if none.
int64_t layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

DType base_type(FileType t) {
  switch (t) {
    case FileType::kF32:
      return DType::kF32;
    case FileType::kF16:
      return DType::kF16;
    case FileType::kBF16:
      return DType::kBF16;
    case FileType::kQ8_0:
      return DType::kQ8_0;
    case FileType::kQ4_0:
      return DType::kQ4_0;
    case FileType::kQ4_K_M:
      return DType::kQ4_K;
    case FileType::kQ6_K:
      return DType::kQ6_K;
  }
  return DType::kF32;
}

int effective_dims(const std::vector<int64_t>& ne) {
  int n = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] > 1) n = static_cast<int>(d) + 1;
  }
  return n;
}

DType fallback(DType want, int64_t ne0) {
  if (ne0 % block_size(want) == 0) return want;
  DType f = DType::kF16;
  switch (want) {
    case DType::kQ4_K:
      f = DType::kQ5_0;
      break;
    case DType::kQ5_K:
      f = DType::kQ5_1;
      break;
    case DType::kQ6_K:
      f = DType::kQ8_0;
      break;
    case DType::kQ2_K:
    case DType::kQ3_K:
      f = DType::kQ4_0;
      break;
    default:
      f = DType::kF16;
      break;
  }
  if (ne0 % block_size(f) != 0) f = DType::kF16;
  return f;
}

}  // namespace

std::vector<DType> plan_tensor_types(FileType type, const std::vector<TensorDesc>& tensors,
                                     int64_t n_layer) {
  const DType base = base_type(type);
  const bool q4km = type == FileType::kQ4_K_M;
  bool has_output = false;
  int64_t n_attention_wv = 0;
  // llama-quantize counts GDN attn_qkv tensors together with attn_v for the more-bits rule.
  for (const auto& t : tensors) {
    if (contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight")) ++n_attention_wv;
    if (t.name == "output.weight") has_output = true;
  }
  int64_t i_attention_wv = 0;
  std::vector<DType> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) {
    const std::string& name = t.name;
    const int64_t ne0 = t.ne.empty() ? 1 : t.ne[0];
    const bool keep = effective_dims(t.ne) < 2 || contains(name, "_norm.weight") ||
                      contains(name, "ffn_gate_inp.weight") || contains(name, "ssm_conv1d");
    if (keep) {
      const bool plain = t.type == DType::kF32 || t.type == DType::kF16 || t.type == DType::kBF16;
      out.push_back(plain ? t.type : DType::kF32);
      continue;
    }
    DType want = base;
    if (name == "output.weight" || (!has_output && name == "token_embd.weight")) {
      if (ne0 % block_size(base) != 0) {
        want = DType::kQ8_0;
      } else if (type == FileType::kQ4_0 || q4km) {
        want = DType::kQ6_K;
      }
    } else if (contains(name, "attn_v.weight")) {
      if (q4km && use_more_bits(i_attention_wv, n_attention_wv)) want = DType::kQ6_K;
      ++i_attention_wv;
    } else if (contains(name, "ffn_down")) {
      const int64_t layer = layer_of(name);
      if (q4km && layer >= 0 && use_more_bits(layer, n_layer)) want = DType::kQ6_K;
    } else if (contains(name, "attn_qkv.weight")) {
      if (q4km) want = DType::kQ5_K;
    }
    out.push_back(fallback(want, ne0));
  }
  return out;
}

Status convert_rows(DType src_type, const uint8_t* src, DType dst_type, uint8_t* dst, int64_t cols,
                    int64_t rows, ThreadPool& pool) {
  const size_t src_rb = row_bytes(src_type, cols), dst_rb = row_bytes(dst_type, cols);
  if (src_type == dst_type) {
    std::memcpy(dst, src, src_rb * static_cast<size_t>(rows));
    return Status::ok();
  }
  if (!can_dequantize(src_type)) {
    return unsupported_error(str_format("cannot decode tensor type %s", dtype_name(src_type)));
  }
  if (!can_quantize(dst_type)) {
    return unsupported_error(str_format("cannot encode tensor type %s", dtype_name(dst_type)));
  }
  std::atomic<bool> failed{false};
  pool.parallel_for(rows, [&](int64_t b, int64_t e) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = b; r < e && !failed; ++r) {
      if (!dequantize_row(src_type, src + r * src_rb, row.data(), cols).is_ok() ||
          !quantize_row(dst_type, row.data(), dst + r * dst_rb, cols).is_ok()) {
        failed = true;
      }
    }
  });
  if (failed) {
    return internal_error(
        str_format("re-encoding %s -> %s failed", dtype_name(src_type), dtype_name(dst_type)));
  }
  return Status::ok();
}

Status quantize_model(const std::string& in, const std::string& out, FileType type,
                      ThreadPool& pool, ProgressFn progress) {
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::open(in));
  int64_t n_layer = 0;
  if (auto arch = file.get_string("general.architecture"); arch.is_ok()) {
    if (auto bc = file.get_u64(*arch + ".block_count"); bc.is_ok())
      n_layer = static_cast<int64_t>(*bc);
  }
  std::vector<TensorDesc> descs;
  for (const auto& t : file.tensors()) {
    TensorDesc d;
    d.name = t.name;
    d.ne.assign(t.ne, t.ne + t.n_dims);
    d.type = t.type;
    if (!can_dequantize(t.type)) {
      return unsupported_error(str_format("%s: tensor '%s' has type %s, which hearth cannot decode",
                                          in.c_str(), t.name.c_str(), dtype_name(t.type)));
    }
    n_layer = std::max(n_layer, layer_of(t.name) + 1);
    descs.push_back(std::move(d));
  }
  const std::vector<DType> types = plan_tensor_types(type, descs, n_layer);

  gguf::GgufWriter writer(file.alignment());
  for (const auto& [key, value] : file.metadata()) writer.set(key, value);
  writer.set_u32("general.quantization_version", 2);
  writer.set_u32("general.file_type", model::llama_ftype(type));

  auto done = std::make_shared<std::atomic<int64_t>>(0);
  const int64_t total = static_cast<int64_t>(descs.size());
  ThreadPool* pool_ptr = &pool;
  for (size_t i = 0; i < descs.size(); ++i) {
    const gguf::TensorInfo* src = &file.tensors()[i];
    const DType dst_type = types[i];
    const int64_t cols = src->ne[0];
    const int64_t rows = static_cast<int64_t>(src->n_elements) / std::max<int64_t>(cols, 1);
    auto fill = [=](uint8_t* dst, size_t n_bytes) -> Status {
      if (row_bytes(dst_type, cols) * static_cast<size_t>(rows) != n_bytes) {
        return internal_error("quantize: size mismatch for " + src->name);
      }
      Status s = convert_rows(src->type, src->data, dst_type, dst, cols, rows, *pool_ptr);
      if (!s.is_ok()) return s.with_context("tensor '" + src->name + "'");
      const int64_t d = ++*done;
      if (progress) progress(d, total, src->name);
      return Status::ok();
    };
    HEARTH_RETURN_IF_ERROR(writer.add_tensor_lazy(src->name, dst_type, descs[i].ne, fill));
  }
  return writer.write_file(out);
}

}  // namespace hearth::convert
