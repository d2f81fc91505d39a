// measure_read_bandwidth_gbs: the quick bandwidth figure shared by `hearth bench` and `hearth fit`
// (`hearth bench-kernels` runs a longer probe with per-piece timing).
#include <algorithm>

#include "base/aligned_buffer.h"
#include "base/timer.h"
#include "kernels/kernels.h"

namespace hearth::kernels {

double measure_read_bandwidth_gbs(ThreadPool& pool, int64_t bytes, int passes) {
  const int64_t n = bytes / static_cast<int64_t>(sizeof(float));
  AlignedBuffer buf(static_cast<size_t>(n) * sizeof(float));
  float* p = buf.as<float>();
  // Touch every page from the threads that will read it.
  pool.parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = static_cast<float>(i & 1023);
  });
  double best = 0;
  volatile float sink = 0;
  for (int pass = 0; pass < std::max(passes, 1); ++pass) {
    Stopwatch sw;
    sink = sink + sum_probe(p, n, pool);
    best = std::max(best, static_cast<double>(n) * sizeof(float) / sw.elapsed_s() * 1e-9);
  }
  return best;
}

}  // namespace hearth::kernels
