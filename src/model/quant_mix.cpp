// File-type table and llama-quantize's per-tensor type rules (llama_tensor_get_type for the
// file types hearth writes; qwen35-architecture.md §10).
#include "model/quant_mix.h"

#include <cctype>
#include <cstdio>

namespace hearth::model {

namespace {

struct FileTypeInfo {
  FileType type;
  const char* name;
  uint32_t ftype;
  DType base;
};
constexpr FileTypeInfo kFileTypes[] = {
    {FileType::kF32, "f32", 0, DType::kF32},     {FileType::kF16, "f16", 1, DType::kF16},
    {FileType::kBF16, "bf16", 32, DType::kBF16}, {FileType::kQ8_0, "q8_0", 7, DType::kQ8_0},
    {FileType::kQ4_0, "q4_0", 2, DType::kQ4_0},  {FileType::kQ4_K_M, "q4_k_m", 15, DType::kQ4_K},
    {FileType::kQ6_K, "q6_k", 18, DType::kQ6_K},
};

const FileTypeInfo& info(FileType t) {
  for (const auto& i : kFileTypes) {
    if (i.type == t) return i;
  }
  return kFileTypes[0];
}

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

// llama-quantize's use_more_bits: the first and last eighth of the layers and every third one
// in between.
bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

// Layer index from "blk.N.", -1 if none.
int64_t layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
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

std::optional<FileType> file_type_from_name(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& i : kFileTypes) {
    if (lower == i.name) return i.type;
  }
  return std::nullopt;
}

const char* file_type_name(FileType type) {
  return info(type).name;
}

uint32_t llama_ftype(FileType type) {
  return info(type).ftype;
}

DType file_type_base(FileType type) {
  return info(type).base;
}

std::vector<DType> plan_tensor_types(FileType type, const std::vector<TensorDesc>& tensors,
                                     int64_t n_layer) {
  const DType base = file_type_base(type);
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

}  // namespace hearth::model
