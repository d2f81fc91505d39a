// The ggml type table: names, block sizes and byte sizes (ggml/src/ggml.c type_traits).
#include "tensor/dtype.h"

#include <array>
#include <cctype>
#include <cstdlib>
#include <string>

namespace hearth {
namespace {

constexpr uint32_t kMaxTypeId = 40;

struct Entry {
  bool known;
  DTypeTraits traits;
};

constexpr std::array<Entry, kMaxTypeId> make_table() {
  std::array<Entry, kMaxTypeId> t{};
  auto set = [&](DType id, const char* name, int64_t bs, size_t ts, bool q, bool sup) {
    t[static_cast<uint32_t>(id)] = Entry{true, DTypeTraits{name, bs, ts, q, sup}};
  };
  set(DType::kF32, "f32", 1, 4, false, true);
  set(DType::kF16, "f16", 1, 2, false, true);
  set(DType::kQ4_0, "q4_0", 32, 18, true, true);
  set(DType::kQ4_1, "q4_1", 32, 20, true, true);
  set(DType::kQ5_0, "q5_0", 32, 22, true, true);
  set(DType::kQ5_1, "q5_1", 32, 24, true, true);
  set(DType::kQ8_0, "q8_0", 32, 34, true, true);
  set(DType::kQ8_1, "q8_1", 32, 36, true, false);
  set(DType::kQ2_K, "q2_K", 256, 84, true, true);
  set(DType::kQ3_K, "q3_K", 256, 110, true, true);
  set(DType::kQ4_K, "q4_K", 256, 144, true, true);
  set(DType::kQ5_K, "q5_K", 256, 176, true, true);
  set(DType::kQ6_K, "q6_K", 256, 210, true, true);
  set(DType::kQ8_K, "q8_K", 256, 292, true, true);
  set(DType::kIQ2_XXS, "iq2_xxs", 256, 66, true, false);
  set(DType::kIQ2_XS, "iq2_xs", 256, 74, true, false);
  set(DType::kIQ3_XXS, "iq3_xxs", 256, 98, true, false);
  set(DType::kIQ1_S, "iq1_s", 256, 50, true, false);
  set(DType::kIQ4_NL, "iq4_nl", 32, 18, true, false);
  set(DType::kIQ3_S, "iq3_s", 256, 110, true, false);
  set(DType::kIQ2_S, "iq2_s", 256, 82, true, false);
  set(DType::kIQ4_XS, "iq4_xs", 256, 136, true, false);
  set(DType::kI8, "i8", 1, 1, false, false);
  set(DType::kI16, "i16", 1, 2, false, false);
  set(DType::kI32, "i32", 1, 4, false, false);
  set(DType::kI64, "i64", 1, 8, false, false);
  set(DType::kF64, "f64", 1, 8, false, false);
  set(DType::kIQ1_M, "iq1_m", 256, 56, true, false);
  set(DType::kBF16, "bf16", 1, 2, false, true);
  set(DType::kTQ1_0, "tq1_0", 256, 54, true, false);
  set(DType::kTQ2_0, "tq2_0", 256, 66, true, false);
  set(DType::kMXFP4, "mxfp4", 32, 17, true, false);
  return t;
}

constexpr auto kTable = make_table();

}  // namespace

std::optional<DTypeTraits> dtype_traits(uint32_t type_id) {
  if (type_id >= kMaxTypeId || !kTable[type_id].known) return std::nullopt;
  return kTable[type_id].traits;
}

const DTypeTraits& traits(DType type) {
  uint32_t id = static_cast<uint32_t>(type);
  if (id >= kMaxTypeId || !kTable[id].known) std::abort();  // a DType value is always a known id
  return kTable[id].traits;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (uint32_t id = 0; id < kMaxTypeId; ++id) {
    if (!kTable[id].known) continue;
    std::string n = kTable[id].traits.name;
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n == lower) return static_cast<DType>(id);
  }
  return std::nullopt;
}

}  // namespace hearth
