// Shared helpers for the kernel tests: ISA enumeration with restore, random matrices quantised
// through tensor/quant.h.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "tensor/quant.h"

namespace hearth::kernels::testing {

// Every ISA this CPU can run (each test forces each one with set_isa).
inline std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (isa_supported(i)) out.push_back(i);
  }
  return out;
}

// Restores the dispatched ISA when a test ends.
class IsaGuard {
 public:
  IsaGuard() : saved_(current_isa()) {}
  ~IsaGuard() { set_isa(saved_); }

 private:
  Isa saved_;
};

inline std::vector<float> random_floats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// A rows x cols matrix of type t built by quantising Gaussian rows with quantize_row.
struct TestMatrix {
  std::vector<uint8_t> bytes;  // [rows][row_bytes(t, cols)]
  WeightMatrix w;
};

inline TestMatrix make_matrix(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  TestMatrix m;
  const size_t rb = row_bytes(t, cols);
  m.bytes.resize(rb * static_cast<size_t>(rows) + 1);
  const std::vector<float> src = random_floats(rows * cols, seed);
  for (int64_t r = 0; r < rows; ++r) {
    Status st = quantize_row(t, src.data() + r * cols, m.bytes.data() + r * rb, cols);
    if (!st.is_ok()) std::abort();
  }
  m.w.type = t;
  m.w.rows = rows;
  m.w.cols = cols;
  m.w.data = m.bytes.data();
  return m;
}

}  // namespace hearth::kernels::testing
