// Safetensors reader (header JSON parsed with nlohmann-json, every offset checked) and writer.
#include "convert/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tensor/float16.h"

namespace hearth::convert {

namespace fs = std::filesystem;

const char* st_dtype_name(StDType type) {
  switch (type) {
    case StDType::kF32:
      return "F32";
    case StDType::kF16:
      return "F16";
    case StDType::kBF16:
      return "BF16";
  }
  return "?";
}

size_t st_dtype_size(StDType type) {
  return type == StDType::kF32 ? 4 : 2;
}

int64_t StTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(MappedFile mf, MappedFile::open(path));
  auto mapping = std::make_shared<MappedFile>(std::move(mf));
  const uint8_t* base = mapping->data();
  const size_t size = mapping->size();
  if (size < 8) return corrupt_data_error(path + ": truncated safetensors file (no header length)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, base, 8);
  if (header_len > size - 8) {
    return corrupt_data_error(str_format("%s: header length %llu exceeds the file size %zu",
                                         path.c_str(), static_cast<unsigned long long>(header_len),
                                         size));
  }
  const char* hp = reinterpret_cast<const char*>(base + 8);
  nlohmann::json header = nlohmann::json::parse(hp, hp + header_len, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return corrupt_data_error(path + ": safetensors header is not a JSON object");
  }
  const uint8_t* data = base + 8 + header_len;
  const size_t data_size = size - 8 - header_len;
  SafetensorsFile f;
  f.path_ = path;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    auto bad = [&](const std::string& what) {
      return corrupt_data_error(path + ": tensor '" + name + "': " + what);
    };
    if (!info.is_object()) return bad("entry is not an object");
    const auto dt = info.find("dtype");
    const auto sh = info.find("shape");
    const auto off = info.find("data_offsets");
    if (dt == info.end() || !dt->is_string()) return bad("missing dtype");
    if (sh == info.end() || !sh->is_array()) return bad("missing shape");
    if (off == info.end() || !off->is_array() || off->size() != 2 ||
        !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned()) {
      return bad("missing or malformed data_offsets");
    }
    StTensor t;
    t.name = name;
    const std::string dts = dt->get<std::string>();
    if (dts == "F32") {
      t.dtype = StDType::kF32;
    } else if (dts == "F16") {
      t.dtype = StDType::kF16;
    } else if (dts == "BF16") {
      t.dtype = StDType::kBF16;
    } else {
      return unsupported_error(path + ": tensor '" + name + "' has dtype " + dts +
                               " (supported: BF16, F16, F32)");
    }
    uint64_t n = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) return bad("shape entries must be non-negative integers");
      const uint64_t v = d.get<uint64_t>();
      if (v > (uint64_t{1} << 40) || (v != 0 && n > (uint64_t{1} << 40) / v)) {
        return bad("shape too large");
      }
      n *= v;
      t.shape.push_back(static_cast<int64_t>(v));
    }
    const uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
    if (e < b || e > data_size) {
      return bad(str_format(
          "data_offsets [%llu, %llu) outside the data section (%zu bytes): "
          "truncated file?",
          static_cast<unsigned long long>(b), static_cast<unsigned long long>(e), data_size));
    }
    if (e - b != n * st_dtype_size(t.dtype)) {
      return bad(str_format("%llu bytes for %llu %s elements",
                            static_cast<unsigned long long>(e - b),
                            static_cast<unsigned long long>(n), dts.c_str()));
    }
    t.data = data + b;
    t.n_bytes = static_cast<size_t>(e - b);
    f.tensors_.push_back(std::move(t));
  }
  // Overlapping tensors would alias each other's bytes.
  std::vector<const StTensor*> order;
  for (const auto& t : f.tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->data < b->data; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i - 1]->data + order[i - 1]->n_bytes > order[i]->data) {
      return corrupt_data_error(path + ": tensors '" + order[i - 1]->name + "' and '" +
                                order[i]->name + "' overlap");
    }
  }
  f.mapping_ = std::move(mapping);
  return f;
}

Result<SafetensorsModel> SafetensorsModel::open_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return not_found_error(dir + ": not a folder");
  std::vector<std::string> files;
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(index, ec)) {
    HEARTH_ASSIGN_OR_RETURN(std::string text, read_file(index.string()));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") ||
        !j["weight_map"].is_object()) {
      return corrupt_data_error(index.string() + ": expected an object with a weight_map");
    }
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) return corrupt_data_error(index.string() + ": bad entry for " + name);
      const std::string fn = file.get<std::string>();
      if (fn.find('/') != std::string::npos || fn.find("..") != std::string::npos) {
        return corrupt_data_error(index.string() + ": shard name '" + fn +
                                  "' is not a plain file name");
      }
      if (std::find(files.begin(), files.end(), fn) == files.end()) files.push_back(fn);
    }
  } else if (fs::exists(fs::path(dir) / "model.safetensors", ec)) {
    files.push_back("model.safetensors");
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".safetensors") files.push_back(e.path().filename().string());
    }
    std::sort(files.begin(), files.end());
  }
  if (files.empty()) return not_found_error(dir + ": no .safetensors files");
  SafetensorsModel m;
  for (const auto& fn : files) {
    HEARTH_ASSIGN_OR_RETURN(SafetensorsFile f,
                            SafetensorsFile::open((fs::path(dir) / fn).string()));
    m.shards_.push_back(std::make_shared<SafetensorsFile>(std::move(f)));
    for (const auto& t : m.shards_.back()->tensors()) {
      if (!m.by_name_.emplace(t.name, &t).second) {
        return corrupt_data_error(dir + ": tensor '" + t.name + "' appears in two shards");
      }
    }
  }
  return m;
}

const StTensor* SafetensorsModel::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsModel::names() const {
  std::vector<std::string> out;
  for (const auto& [n, t] : by_name_) out.push_back(n);
  return out;
}

void st_to_f32(const StTensor& t, float* out) {
  const int64_t n = t.n_elements();
  switch (t.dtype) {
    case StDType::kF32:
      std::memcpy(out, t.data, static_cast<size_t>(n) * 4);
      break;
    case StDType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = fp16_to_fp32(h);
      }
      break;
    case StDType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = bf16_to_fp32(h);
      }
      break;
  }
}

StWriteTensor make_st_tensor(const std::string& name, StDType dtype, std::vector<int64_t> shape,
                             const std::vector<float>& values) {
  StWriteTensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * st_dtype_size(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == StDType::kF32) {
      std::memcpy(t.bytes.data() + 4 * i, &values[i], 4);
    } else {
      const uint16_t h = dtype == StDType::kF16 ? fp32_to_fp16(values[i]) : fp32_to_bf16(values[i]);
      std::memcpy(t.bytes.data() + 2 * i, &h, 2);
    }
  }
  return t;
}

Status write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", st_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h += ' ';  // data section 8-byte aligned, as HF writes it
  std::vector<uint8_t> out(8 + h.size() + offset);
  const uint64_t hl = h.size();
  std::memcpy(out.data(), &hl, 8);
  std::memcpy(out.data() + 8, h.data(), h.size());
  size_t pos = 8 + h.size();
  for (const auto& t : tensors) {
    if (!t.bytes.empty()) std::memcpy(out.data() + pos, t.bytes.data(), t.bytes.size());
    pos += t.bytes.size();
  }
  return write_file_atomic(path, out.data(), out.size());
}

Status write_safetensors_index(const std::string& dir,
                               const std::map<std::string, std::string>& weight_map) {
  nlohmann::json j;
  j["metadata"] = nlohmann::json::object();
  j["weight_map"] = weight_map;
  const std::string text = j.dump(2);
  return write_file_atomic((fs::path(dir) / "model.safetensors.index.json").string(), text.data(),
                           text.size());
}

}  // namespace hearth::convert
