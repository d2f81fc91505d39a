// Google Benchmark suite for src/kernels: matvec per weight type (weights rotated over > 256 MiB
// so every call reads DRAM; counters report weight GB/s), matmul GFLOP/s at prefill batch sizes,
// the small ops, and the bandwidth probe for comparison. `hearth bench-kernels` prints the same
// figures as one table.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 2;
constexpr size_t kRotateBytes = size_t{288} << 20;

ThreadPool& pool() {
  static ThreadPool p(kThreads);
  return p;
}

std::vector<float> gaussian(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// `count` copies of a rows x cols matrix (64 quantised Gaussian rows tiled).
struct Mats {
  AlignedBuffer buf;
  std::vector<WeightMatrix> m;
  size_t bytes_each = 0;
};

Mats make_mats(DType t, int64_t rows, int64_t cols, size_t min_total) {
  Mats s;
  const size_t rb = row_bytes(t, cols);
  s.bytes_each = rb * static_cast<size_t>(rows);
  const size_t count = std::max<size_t>(1, (min_total + s.bytes_each - 1) / s.bytes_each);
  s.buf.resize(s.bytes_each * count);
  const int64_t seed_rows = std::min<int64_t>(64, rows);
  const auto src = gaussian(seed_rows * cols, 3);
  std::vector<uint8_t> seed(rb * static_cast<size_t>(seed_rows));
  for (int64_t r = 0; r < seed_rows; ++r) {
    if (!quantize_row(t, src.data() + r * cols, seed.data() + r * rb, cols).is_ok()) std::abort();
  }
  for (size_t off = 0; off < s.buf.size(); off += seed.size()) {
    std::memcpy(s.buf.as<uint8_t>() + off, seed.data(), std::min(seed.size(), s.buf.size() - off));
  }
  for (size_t i = 0; i < count; ++i) {
    s.m.push_back({t, rows, cols, s.buf.as<uint8_t>() + i * s.bytes_each, 0});
  }
  return s;
}

void BM_Matvec(benchmark::State& state) {
  const DType t = static_cast<DType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2);
  Mats s = make_mats(t, rows, cols, kRotateBytes);
  const auto x = gaussian(cols, 1);
  std::vector<float> y(static_cast<size_t>(rows));
  size_t i = 0;
  for (auto _ : state) {
    matvec(s.m[i], x.data(), y.data(), pool());
    i = (i + 1) % s.m.size();
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(dtype_name(t));
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(s.bytes_each) * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}

void BM_Matmul(benchmark::State& state) {
  const DType t = static_cast<DType>(state.range(0));
  const int64_t batch = state.range(1), rows = 4096, cols = 4096;
  Mats s = make_mats(t, rows, cols, 0);
  const auto x = gaussian(batch * cols, 2);
  std::vector<float> y(static_cast<size_t>(batch * rows));
  for (auto _ : state) {
    matmul(s.m[0], x.data(), cols, batch, y.data(), rows, pool());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(dtype_name(t));
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * rows * cols * batch * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}

void BM_BandwidthProbe(benchmark::State& state) {
  ThreadPool local(static_cast<int>(state.range(0)));
  const int64_t n = int64_t{1} << 28;  // 1 GiB of floats
  AlignedBuffer buf(static_cast<size_t>(n) * sizeof(float));
  std::memset(buf.data(), 0, buf.size());
  for (auto _ : state) benchmark::DoNotOptimize(sum_probe(buf.as<float>(), n, local));
  state.counters["GB/s"] = benchmark::Counter(
      static_cast<double>(buf.size()) * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}

void BM_Silu(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = gaussian(n, 4);
  std::vector<float> y(static_cast<size_t>(n));
  for (auto _ : state) {
    silu(x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_RmsNorm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = gaussian(n, 5), w = gaussian(n, 6);
  std::vector<float> y(static_cast<size_t>(n));
  for (auto _ : state) {
    rms_norm(x.data(), w.data(), y.data(), n, 1e-6f);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void MatvecArgs(benchmark::internal::Benchmark* b) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K,
                  DType::kQ5_K, DType::kQ6_K}) {
    b->Args({static_cast<int64_t>(t), 4096, 4096});
    b->Args({static_cast<int64_t>(t), 12288, 4096});
  }
}
void MatmulArgs(benchmark::internal::Benchmark* b) {
  for (DType t : {DType::kQ4_K, DType::kQ8_0, DType::kQ6_K, DType::kF16}) {
    // 1 and 8: decode steps of one / eight concurrent streams (weights stay cache-warm here).
    b->Args({static_cast<int64_t>(t), 1});
    b->Args({static_cast<int64_t>(t), 8});
    b->Args({static_cast<int64_t>(t), 64});
    b->Args({static_cast<int64_t>(t), 512});
  }
}

BENCHMARK(BM_BandwidthProbe)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Matvec)->Apply(MatvecArgs)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Matmul)->Apply(MatmulArgs)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Silu)->Arg(4096)->Arg(12288);
BENCHMARK(BM_RmsNorm)->Arg(4096);

}  // namespace
}  // namespace hearth::kernels

BENCHMARK_MAIN();
