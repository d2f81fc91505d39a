// Kernel commands: `hearth cpu-info` (detected CPU features and the ISA the kernels dispatch to)
// and `hearth bench-kernels` (memory-bandwidth probe, matvec GB/s per weight type next to it,
// GEMM GFLOP/s for prefill-sized batches).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/cpu_features.h"
#include "base/thread_pool.h"
#include "base/timer.h"
#include "cli/commands.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"

namespace hearth::cli {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Per-call figures: median (typical) and best (what an uncontended machine delivers; shared
// machines preempt threads mid-call, which only ever makes a call slower).
struct Rate {
  double median = 0.0;
  double best = 0.0;
};

Rate rate_of(const std::vector<double>& seconds, double bytes_or_flops) {
  Rate r;
  if (seconds.empty()) return r;
  r.median = bytes_or_flops / median(seconds) * 1e-9;
  r.best = bytes_or_flops / *std::min_element(seconds.begin(), seconds.end()) * 1e-9;
  return r;
}

// Streaming-read bandwidth in GB/s (1e9 bytes/s): the buffer (>> LLC) is read front to back in
// 8 MiB pieces, each timed on its own (always cold: the previous 32+ MiB evicted it), `runs`
// passes. Pieces about as long as one matvec call make the two figures comparable.
Rate probe_bandwidth(const float* buf, int64_t n, ThreadPool& pool, int runs) {
  const int64_t piece = std::min<int64_t>(n, (int64_t{8} << 20) / sizeof(float));
  volatile float sink = 0.0f;
  sink = sink + kernels::sum_probe(buf, n, pool);  // warm-up: page tables, frequency
  std::vector<double> secs;
  for (int i = 0; i < runs; ++i) {
    for (int64_t off = 0; off + piece <= n; off += piece) {
      Stopwatch sw;
      sink = sink + kernels::sum_probe(buf + off, piece, pool);
      secs.push_back(sw.elapsed_s());
    }
  }
  return rate_of(secs, static_cast<double>(piece) * sizeof(float));
}

// A set of identical-content weight matrices at different addresses, totalling > min_bytes, so
// that rotating through them always reads from DRAM. Content: 64 quantised Gaussian rows repeated.
struct MatrixSet {
  AlignedBuffer storage;
  std::vector<kernels::WeightMatrix> mats;
  size_t matrix_bytes = 0;
};

Result<std::unique_ptr<MatrixSet>> make_matrix_set(DType t, int64_t rows, int64_t cols,
                                                   size_t min_bytes) {
  auto set = std::make_unique<MatrixSet>();
  const size_t rb = row_bytes(t, cols);
  set->matrix_bytes = rb * static_cast<size_t>(rows);
  const size_t count = std::max<size_t>(2, (min_bytes + set->matrix_bytes - 1) / set->matrix_bytes);
  set->storage.resize(set->matrix_bytes * count);
  const int64_t seed_rows = std::min<int64_t>(64, rows);
  std::vector<float> src(static_cast<size_t>(seed_rows * cols));
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : src) v = dist(rng);
  std::vector<uint8_t> seed(rb * static_cast<size_t>(seed_rows));
  for (int64_t r = 0; r < seed_rows; ++r) {
    HEARTH_RETURN_IF_ERROR(quantize_row(t, src.data() + r * cols, seed.data() + r * rb, cols));
  }
  uint8_t* base = set->storage.as<uint8_t>();
  for (size_t off = 0; off < set->storage.size(); off += seed.size()) {
    std::memcpy(base + off, seed.data(), std::min(seed.size(), set->storage.size() - off));
  }
  for (size_t i = 0; i < count; ++i) {
    kernels::WeightMatrix w;
    w.type = t;
    w.rows = rows;
    w.cols = cols;
    w.data = base + i * set->matrix_bytes;
    set->mats.push_back(w);
  }
  return set;
}

struct MatvecResult {
  std::string type;
  int64_t rows, cols;
  Rate gbs;        // weight bytes read per second (1e9)
  double us_call;  // median microseconds per matvec
};

// Every call reads a matrix that is not in cache (the set is rotated), and is timed on its own.
MatvecResult bench_matvec(const MatrixSet& set, ThreadPool& pool, int passes) {
  const auto& m0 = set.mats[0];
  std::vector<float> x(static_cast<size_t>(m0.cols), 0.5f), y(static_cast<size_t>(m0.rows));
  for (const auto& w : set.mats) kernels::matvec(w, x.data(), y.data(), pool);  // warm-up
  std::vector<double> secs;
  for (int p = 0; p < passes; ++p) {
    for (const auto& w : set.mats) {
      Stopwatch sw;
      kernels::matvec(w, x.data(), y.data(), pool);
      secs.push_back(sw.elapsed_s());
    }
  }
  return {dtype_name(m0.type), m0.rows, m0.cols,
          rate_of(secs, static_cast<double>(set.matrix_bytes)), median(secs) * 1e6};
}

struct GemmResult {
  std::string type;
  int64_t rows, cols, batch;
  Rate gflops;
};

GemmResult bench_gemm(const kernels::WeightMatrix& w, int64_t batch, ThreadPool& pool, int reps) {
  std::vector<float> x(static_cast<size_t>(batch * w.cols)), y(static_cast<size_t>(batch * w.rows));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  kernels::matmul(w, x.data(), w.cols, batch, y.data(), w.rows, pool);  // warm-up
  std::vector<double> secs;
  for (int i = 0; i < reps; ++i) {
    Stopwatch sw;
    kernels::matmul(w, x.data(), w.cols, batch, y.data(), w.rows, pool);
    secs.push_back(sw.elapsed_s());
  }
  return {dtype_name(w.type), w.rows, w.cols, batch, rate_of(secs, 2.0 * w.rows * w.cols * batch)};
}

struct BenchOptions {
  int threads = 0;
  bool json = false;
  bool quick = false;
  int64_t probe_mib = 1024;
  std::string types = "f32,f16,bf16,q8_0,q4_0,q4_K,q5_K,q6_K";
};

Status run_bench(const BenchOptions& opt) {
  const int threads = opt.threads > 0 ? opt.threads : cpu_features().physical_cores;
  ThreadPool pool1(1), pool(threads);
  const int runs = opt.quick ? 2 : 5;
  const size_t set_bytes = (opt.quick ? 96u : 288u) << 20;

  // 1. Memory-bandwidth probe.
  const int64_t probe_floats = opt.probe_mib * (1 << 20) / static_cast<int64_t>(sizeof(float));
  Rate bw1, bwn;
  {
    AlignedBuffer probe(static_cast<size_t>(probe_floats) * sizeof(float));
    float* p = probe.as<float>();
    // First touch from both threads' share (and non-trivial values so nothing folds away).
    pool.parallel_for(
        probe_floats,
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) p[i] = static_cast<float>(i & 1023) * 1e-3f;
        },
        1024);
    bw1 = probe_bandwidth(p, probe_floats, pool1, runs);
    bwn = probe_bandwidth(p, probe_floats, pool, runs);
  }

  // 2. Matvec throughput per weight type (decode shapes).
  std::vector<MatvecResult> mv;
  std::vector<DType> types;
  size_t pos = 0;
  while (pos <= opt.types.size()) {
    const size_t comma = std::min(opt.types.find(',', pos), opt.types.size());
    const std::string name = opt.types.substr(pos, comma - pos);
    pos = comma + 1;
    if (name.empty()) continue;
    auto t = dtype_from_name(name);
    if (!t || !kernels::matmul_supported(*t)) {
      return invalid_argument_error("bench-kernels: unknown or unsupported type '" + name + "'");
    }
    types.push_back(*t);
  }
  const std::pair<int64_t, int64_t> shapes[] = {{4096, 4096}, {12288, 4096}};
  for (DType t : types) {
    for (auto [rows, cols] : shapes) {
      HEARTH_ASSIGN_OR_RETURN(auto set, make_matrix_set(t, rows, cols, set_bytes));
      mv.push_back(bench_matvec(*set, pool, runs));
    }
  }

  // 3. GEMM (prefill) throughput.
  std::vector<GemmResult> gemm;
  const int64_t batches[] = {64, 512};
  for (DType t : {DType::kQ4_K, DType::kQ8_0, DType::kQ6_K, DType::kF16}) {
    if (std::find(types.begin(), types.end(), t) == types.end()) continue;
    HEARTH_ASSIGN_OR_RETURN(auto set, make_matrix_set(t, 4096, 4096, 0));
    for (int64_t b : batches) {
      if (opt.quick && b > 64) continue;
      gemm.push_back(bench_gemm(set->mats[0], b, pool, opt.quick ? 2 : 5));
    }
  }

  const char* isa = kernels::isa_name(kernels::current_isa());
  if (opt.json) {
    std::printf("{\n  \"cpu\": \"%s\",\n  \"isa\": \"%s\",\n  \"threads\": %d,\n",
                cpu_features().brand.c_str(), isa, threads);
    std::printf(
        "  \"bandwidth_gbs\": {\"threads_1\": {\"median\": %.2f, \"best\": %.2f}, "
        "\"threads_n\": {\"median\": %.2f, \"best\": %.2f}},\n",
        bw1.median, bw1.best, bwn.median, bwn.best);
    std::printf("  \"matvec\": [\n");
    for (size_t i = 0; i < mv.size(); ++i) {
      std::printf(
          "    {\"type\": \"%s\", \"rows\": %lld, \"cols\": %lld, \"us_median\": %.1f, "
          "\"gbs_median\": %.2f, \"gbs_best\": %.2f, \"pct_of_bandwidth_best\": %.1f}%s\n",
          mv[i].type.c_str(), static_cast<long long>(mv[i].rows),
          static_cast<long long>(mv[i].cols), mv[i].us_call, mv[i].gbs.median, mv[i].gbs.best,
          100.0 * mv[i].gbs.best / bwn.best, i + 1 < mv.size() ? "," : "");
    }
    std::printf("  ],\n  \"gemm\": [\n");
    for (size_t i = 0; i < gemm.size(); ++i) {
      std::printf(
          "    {\"type\": \"%s\", \"rows\": %lld, \"cols\": %lld, \"batch\": %lld, "
          "\"gflops_median\": %.1f, \"gflops_best\": %.1f}%s\n",
          gemm[i].type.c_str(), static_cast<long long>(gemm[i].rows),
          static_cast<long long>(gemm[i].cols), static_cast<long long>(gemm[i].batch),
          gemm[i].gflops.median, gemm[i].gflops.best, i + 1 < gemm.size() ? "," : "");
    }
    std::printf("  ]\n}\n");
    return Status::ok();
  }
  std::printf("cpu: %s\nisa: %s, threads: %d\n", cpu_features().brand.c_str(), isa, threads);
  std::printf("(median = typical call; best = fastest call, i.e. what an idle machine gives)\n\n");
  std::printf("memory read bandwidth (streaming probe over %lld MiB, 8 MiB pieces)\n",
              static_cast<long long>(opt.probe_mib));
  std::printf("  1 thread : median %6.2f  best %6.2f GB/s\n", bw1.median, bw1.best);
  std::printf("  %d threads: median %6.2f  best %6.2f GB/s\n\n", threads, bwn.median, bwn.best);
  std::printf("matvec (decode), %d threads, weights rotated over >= %zu MiB\n", threads,
              set_bytes >> 20);
  std::printf("  %-6s %12s %10s %12s %10s %12s\n", "type", "rows x cols", "us/call", "GB/s median",
              "GB/s best", "best % of bw");
  for (const auto& r : mv) {
    std::printf("  %-6s %5lldx%-6lld %10.1f %12.2f %10.2f %11.1f%%\n", r.type.c_str(),
                static_cast<long long>(r.rows), static_cast<long long>(r.cols), r.us_call,
                r.gbs.median, r.gbs.best, 100.0 * r.gbs.best / bwn.best);
  }
  std::printf("\nmatmul (prefill GEMM), %d threads\n", threads);
  std::printf("  %-6s %12s %6s %16s %14s\n", "type", "rows x cols", "batch", "GFLOP/s median",
              "GFLOP/s best");
  for (const auto& g : gemm) {
    std::printf("  %-6s %5lldx%-6lld %6lld %16.1f %14.1f\n", g.type.c_str(),
                static_cast<long long>(g.rows), static_cast<long long>(g.cols),
                static_cast<long long>(g.batch), g.gflops.median, g.gflops.best);
  }
  return Status::ok();
}

}  // namespace

void register_kernel_commands(CLI::App& app) {
  CLI::App* info =
      app.add_subcommand("cpu-info", "Print detected CPU features and the kernel ISA in use");
  info->callback([] {
    const CpuFeatures& f = cpu_features();
    std::printf("cpu: %s\n", f.brand.c_str());
    std::printf("logical cpus: %d, physical cores: %d\n", f.logical_cpus, f.physical_cores);
    std::printf("features: %s\n", f.to_string().c_str());
    std::printf("kernel isas supported:");
    for (auto i : {kernels::Isa::kScalar, kernels::Isa::kAvx2, kernels::Isa::kAvx512}) {
      if (kernels::isa_supported(i)) std::printf(" %s", kernels::isa_name(i));
    }
    std::printf("\nkernel isa selected: %s (cap with HEARTH_ISA=scalar|avx2|avx512)\n",
                kernels::isa_name(kernels::best_isa()));
  });

  auto opt = std::make_shared<BenchOptions>();
  CLI::App* bench = app.add_subcommand(
      "bench-kernels", "Measure memory bandwidth, matvec GB/s per weight type and GEMM GFLOP/s");
  bench->add_option("--threads", opt->threads, "Threads (default: physical cores)");
  bench->add_flag("--json", opt->json, "Print results as JSON");
  bench->add_flag("--quick", opt->quick, "Fewer runs, smaller sets (smoke test)");
  bench->add_option("--probe-mib", opt->probe_mib, "Bandwidth probe buffer size in MiB")
      ->check(CLI::Range(64, 65536));
  bench->add_option("--types", opt->types, "Comma-separated weight types for matvec");
  bench->callback([opt] {
    Status st = run_bench(*opt);
    if (!st.is_ok()) report_error(st);
  });
}

}  // namespace hearth::cli
