// The streaming GGUF -> GGUF re-encoder (per-tensor types from model/quant_mix.h).
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

// Layer index from "blk.N.", -1 if none.
int64_t layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

}  // namespace

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
