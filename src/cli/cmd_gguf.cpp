// Subcommands of the gguf family: `hearth gguf info FILE` (header, metadata, tensor table, type
// summary) and `hearth gguf dequant FILE TENSOR --out PATH` (raw little-endian f32, ne0 fastest).
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/timer.h"
#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "tensor/quant.h"

namespace hearth::cli {
namespace {

std::string shape_string(const gguf::TensorInfo& t) {
  std::string s = "[";
  for (int d = 0; d < t.n_dims; ++d) {
    if (d) s += ", ";
    s += std::to_string(t.ne[d]);
  }
  return s + "]";
}

std::string human_bytes(uint64_t n) {
  if (n >= (1ull << 30)) return str_format("%.2f GiB", n / double(1ull << 30));
  if (n >= (1ull << 20)) return str_format("%.2f MiB", n / double(1ull << 20));
  if (n >= (1ull << 10)) return str_format("%.2f KiB", n / double(1ull << 10));
  return str_format("%" PRIu64 " B", n);
}

Status run_info(const std::string& path) {
  Stopwatch timer;
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::open(path));
  double open_ms = timer.elapsed_s() * 1e3;
  std::printf("file:        %s\n", path.c_str());
  std::printf("size:        %zu bytes (%s)\n", file.file_size(),
              human_bytes(file.file_size()).c_str());
  std::printf("version:     %" PRIu32 "\n", file.version());
  std::printf("alignment:   %" PRIu32 "\n", file.alignment());
  std::printf("data offset: %" PRIu64 "\n", file.data_offset());
  std::printf("parsed in:   %.1f ms\n", open_ms);

  std::printf("\nmetadata (%zu):\n", file.metadata().size());
  for (const auto& [key, value] : file.metadata()) {
    std::string type = gguf::value_type_name(value.type);
    if (value.type == gguf::ValueType::kArray) {
      type = std::string("array[") + gguf::value_type_name(value.array_type) + "]";
    }
    std::printf("  %-48s %-14s %s\n", key.c_str(), type.c_str(),
                value.to_display_string(6).c_str());
  }

  std::printf("\ntensors (%zu):\n", file.tensors().size());
  std::printf("  %-48s %-8s %-28s %14s %14s\n", "name", "type", "shape", "bytes", "offset");
  struct Summary {
    size_t count = 0;
    uint64_t bytes = 0;
    uint64_t elements = 0;
  };
  std::map<std::string, Summary> per_type;
  uint64_t total_bytes = 0, total_elements = 0;
  for (const gguf::TensorInfo& t : file.tensors()) {
    std::printf("  %-48s %-8s %-28s %14zu %14" PRIu64 "\n", t.name.c_str(), dtype_name(t.type),
                shape_string(t).c_str(), t.n_bytes, t.offset);
    Summary& s = per_type[dtype_name(t.type)];
    ++s.count;
    s.bytes += t.n_bytes;
    s.elements += t.n_elements;
    total_bytes += t.n_bytes;
    total_elements += t.n_elements;
  }
  std::printf("\nsummary by type:\n");
  for (const auto& [name, s] : per_type) {
    std::printf("  %-8s %6zu tensors %16" PRIu64 " elements %12s%s\n", name.c_str(), s.count,
                s.elements, human_bytes(s.bytes).c_str(),
                can_dequantize(*dtype_from_name(name)) ? "" : "  (not supported by hearth)");
  }
  std::printf("  %-8s %6zu tensors %16" PRIu64 " elements %12s\n", "total", file.tensors().size(),
              total_elements, human_bytes(total_bytes).c_str());
  return Status::ok();
}

Status run_dequant(const std::string& path, const std::string& tensor_name,
                   const std::string& out_path) {
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::open(path));
  const gguf::TensorInfo* t = file.find_tensor(tensor_name);
  if (!t) {
    return not_found_error(str_format("tensor '%s' not found in '%s' (%zu tensors)",
                                      tensor_name.c_str(), path.c_str(), file.tensors().size()));
  }
  if (!can_dequantize(t->type)) {
    return unsupported_error(str_format("tensor '%s' has type %s, which hearth cannot dequantize",
                                        t->name.c_str(), dtype_name(t->type)));
  }
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "output is raw little-endian f32");
  const int64_t ne0 = t->ne[0];
  const uint64_t n_rows = t->ne[0] == 0 ? 0 : t->n_elements / static_cast<uint64_t>(ne0);
  const size_t src_row_bytes = row_bytes(t->type, ne0);

  std::string tmp = out_path + ".tmp";
  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!out) return io_error("cannot create '" + tmp + "'");
  std::vector<float> row(static_cast<size_t>(ne0));  // [ne0]
  Status status;
  for (uint64_t r = 0; r < n_rows && status.is_ok(); ++r) {
    status = dequantize_row(t->type, t->data + r * src_row_bytes, row.data(), ne0);
    if (status.is_ok() &&
        std::fwrite(row.data(), sizeof(float), row.size(), out.get()) != row.size()) {
      status = resource_exhausted_error("cannot write '" + tmp + "' (disk full?)");
    }
  }
  if (status.is_ok() && std::fflush(out.get()) != 0) {
    status = resource_exhausted_error("cannot write '" + tmp + "' (disk full?)");
  }
  out.reset();
  if (status.is_ok() && std::rename(tmp.c_str(), out_path.c_str()) != 0) {
    status = io_error("cannot rename '" + tmp + "' onto '" + out_path + "'");
  }
  if (!status.is_ok()) {
    std::remove(tmp.c_str());
    return status.with_context("dequantizing '" + t->name + "'");
  }
  std::fprintf(stderr, "wrote %" PRIu64 " x %" PRId64 " f32 values (%s %s) to %s\n", n_rows, ne0,
               dtype_name(t->type), shape_string(*t).c_str(), out_path.c_str());
  return Status::ok();
}

}  // namespace

void register_gguf_commands(CLI::App& app) {
  CLI::App* gguf = app.add_subcommand("gguf", "Inspect GGUF files");
  gguf->require_subcommand(1);

  struct InfoArgs {
    std::string path;
  };
  auto info_args = std::make_shared<InfoArgs>();
  CLI::App* info = gguf->add_subcommand("info", "Print header, metadata and tensor table");
  info->add_option("file", info_args->path, "GGUF file")->required();
  info->callback([info_args] {
    Status s = run_info(info_args->path);
    if (!s.is_ok()) report_error(s);
  });

  struct DequantArgs {
    std::string path, tensor, out;
  };
  auto dq_args = std::make_shared<DequantArgs>();
  CLI::App* dq = gguf->add_subcommand(
      "dequant", "Write one tensor as raw little-endian f32, row-major with ne0 fastest");
  dq->add_option("file", dq_args->path, "GGUF file")->required();
  dq->add_option("tensor", dq_args->tensor, "tensor name")->required();
  dq->add_option("--out,-o", dq_args->out, "output path")->required();
  dq->callback([dq_args] {
    Status s = run_dequant(dq_args->path, dq_args->tensor, dq_args->out);
    if (!s.is_ok()) report_error(s);
  });
}

}  // namespace hearth::cli
