// CPU feature detection (cpuid + OS support via xgetbv), done once at start-up.
// HEARTH_ISA=scalar|avx2|avx512 caps the level the kernels dispatch to.
#pragma once

#include <string>

namespace hearth {

struct CpuFeatures {
  bool sse42 = false;
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx_vnni = false;    // VEX-encoded VNNI (Alder Lake+, Zen 5)
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512dq = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool arm_neon = false;
  std::string brand;
  int logical_cpus = 1;
  int physical_cores = 1;  // best effort: logical / threads-per-core

  std::string to_string() const;
};

// Detected once; thread-safe.
const CpuFeatures& cpu_features();

}  // namespace hearth
