// `hearth fit`: for every Qwen3.5 size and quantisation, the memory one instance needs (weights +
// KV for the full-attention layers only + recurrent/conv state + compute buffers) at a context and
// parallelism, whether it fits the RAM given, and a decode-speed estimate from the measured (or
// given) memory bandwidth. Ranked best-first: fitting models, larger and higher-precision first.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/thread_pool.h"
#include "cli/commands.h"
#include "engine/memory_estimate.h"
#include "kernels/kernels.h"
#include "model/synthetic.h"
#include "store/model_store.h"

namespace hearth::cli {
namespace {

struct FitArgs {
  std::string ram = "";  // default: this machine's total RAM
  int64_t ctx = 32768;
  int parallel = 1;
  double bandwidth_gbs = 0;  // 0: measure
  bool json = false;
  std::string model;  // non-empty: estimate this model (store name or .gguf) only
};

Result<uint64_t> parse_size(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || v <= 0)
    return invalid_argument_error("cannot read the size '" + s + "' (e.g. 16G, 512M)");
  std::string unit(end);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double mul = 1;
  if (unit == "" || unit == "G" || unit == "GB" || unit == "GIB")
    mul = 1024.0 * 1024 * 1024;
  else if (unit == "M" || unit == "MB" || unit == "MIB")
    mul = 1024.0 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB")
    mul = 1024.0 * 1024 * 1024 * 1024;
  else
    return invalid_argument_error("unknown size unit in '" + s + "'");
  return static_cast<uint64_t>(v * mul);
}

struct Quant {
  const char* name;
  double bits;  // average bits per weight of a llama.cpp file of this type
};
// Averages of llama.cpp files (Q4_K_M mixes Q4_K with Q6_K; ~4.85 bpw as in Ollama's qwen3.5:9b).
const Quant kQuants[] = {{"bf16", 16.0}, {"q8_0", 8.5}, {"q6_k", 6.56}, {"q4_k_m", 4.85}};

struct Row {
  std::string name;
  const char* quant;
  double bits;
  uint64_t params;
  engine::MemoryEstimate mem;
  bool fits;
  double tok_s;
};

// The estimate for one model file at --ctx x --parallel (what `hearth show` prints for one
// sequence). JSON fields as in the table rows.
Status fit_model(const FitArgs& args, uint64_t ram, uint64_t usable) {
  HEARTH_ASSIGN_OR_RETURN(store::ModelName name, store::parse_model_name(args.model));
  store::ModelStore models(store::ModelStore::default_root());
  HEARTH_ASSIGN_OR_RETURN(store::ModelEntry entry, models.resolve(name));
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::open(entry.gguf_path));
  HEARTH_ASSIGN_OR_RETURN(engine::MemoryEstimate m,
                          engine::estimate_memory_for_file(file, args.ctx, args.parallel));
  const bool fits = m.total() <= usable;
  if (args.json) {
    nlohmann::json out = {{"model", args.model},
                          {"path", entry.gguf_path},
                          {"context", args.ctx},
                          {"parallel", args.parallel},
                          {"ram_bytes", ram},
                          {"usable_bytes", usable},
                          {"weights_bytes", m.weights},
                          {"kv_bytes", m.kv_cache},
                          {"state_bytes", m.recurrent_state},
                          {"compute_bytes", m.compute},
                          {"runtime_bytes", m.runtime},
                          {"total_bytes", m.total()},
                          {"fits", fits}};
    std::printf("%s\n", out.dump().c_str());
    return Status::ok();
  }
  std::printf("%s at context %lld x %d sequence(s):\n", args.model.c_str(),
              static_cast<long long>(args.ctx), args.parallel);
  std::printf(
      "  weights   %11s\n  KV cache  %11s\n  state     %11s\n  compute   %11s\n  runtime   %11s\n"
      "  total     %11s  (%s %s usable)\n",
      engine::format_bytes(m.weights).c_str(), engine::format_bytes(m.kv_cache).c_str(),
      engine::format_bytes(m.recurrent_state).c_str(), engine::format_bytes(m.compute).c_str(),
      engine::format_bytes(m.runtime).c_str(), engine::format_bytes(m.total()).c_str(),
      fits ? "fits in" : "does not fit in", engine::format_bytes(usable).c_str());
  return Status::ok();
}

void fit_command(const FitArgs& args) {
  uint64_t ram = 0;
  if (args.ram.empty()) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    ram = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
  } else {
    auto r = parse_size(args.ram);
    if (!r.is_ok()) return report_error(r.status());
    ram = *r;
  }
  if (args.ctx < 1 || args.parallel < 1)
    return report_error(invalid_argument_error("--ctx and --parallel must be positive"));
  if (!args.model.empty()) {
    const uint64_t reserve = std::min<uint64_t>(ram / 8, 2ULL << 30);
    Status s = fit_model(args, ram, ram - reserve);
    if (!s.is_ok()) report_error(s);
    return;
  }
  double bw = args.bandwidth_gbs;
  if (bw <= 0) {
    ThreadPool pool(0);
    bw = kernels::measure_read_bandwidth_gbs(pool);
  }
  // Leave room for the OS and other programs, as a user would.
  const uint64_t reserve = std::min<uint64_t>(ram / 8, 2ULL << 30);
  const uint64_t usable = ram - reserve;

  struct Size {
    model::Arch arch;
    const char* size;
  };
  const Size sizes[] = {{model::Arch::kQwen35, "0.8b"}, {model::Arch::kQwen35, "2b"},
                        {model::Arch::kQwen35, "4b"},   {model::Arch::kQwen35, "9b"},
                        {model::Arch::kQwen35, "27b"},  {model::Arch::kQwen35Moe, "35b-a3b"}};
  std::vector<Row> rows;
  for (const auto& s : sizes) {
    bool tied = false;
    auto hp = model::synthetic_hparams(s.arch, s.size, &tied);
    if (!hp.is_ok()) return report_error(hp.status());
    hp->n_vocab = 248320;
    auto params = engine::count_params(*hp, tied);
    for (const auto& q : kQuants) {
      Row r;
      r.name = std::string("qwen3.5:") + s.size;
      r.quant = q.name;
      r.bits = q.bits;
      r.params = params.total;
      r.mem = engine::estimate_memory(*hp, 0, q.bits, tied, args.ctx, args.parallel);
      r.fits = r.mem.total() <= usable;
      // Decode reads the active weights plus, on average, half the KV cache of each sequence.
      double per_token = static_cast<double>(r.mem.bytes_per_token) +
                         0.5 * static_cast<double>(r.mem.kv_cache) / args.parallel;
      r.tok_s = bw * 1e9 / per_token;
      rows.push_back(r);
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.fits != b.fits) return a.fits;
    if (a.params != b.params) return a.params > b.params;
    return a.bits > b.bits;
  });
  if (args.json) {
    std::printf(
        "{\"ram_bytes\":%llu,\"usable_bytes\":%llu,\"bandwidth_gbs\":%.2f,\"context\":%lld,"
        "\"parallel\":%d,\"models\":[",
        static_cast<unsigned long long>(ram), static_cast<unsigned long long>(usable), bw,
        static_cast<long long>(args.ctx), args.parallel);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::printf(
          "%s{\"name\":\"%s\",\"quantization\":\"%s\",\"params\":%llu,\"weights_bytes\":%llu,\"kv_"
          "bytes\":%llu,"
          "\"state_bytes\":%llu,\"compute_bytes\":%llu,\"runtime_bytes\":%llu,\"total_bytes\":%llu,"
          "\"fits\":%s,\"decode_tok_s\":%.1f}",
          i ? "," : "", r.name.c_str(), r.quant, static_cast<unsigned long long>(r.params),
          static_cast<unsigned long long>(r.mem.weights),
          static_cast<unsigned long long>(r.mem.kv_cache),
          static_cast<unsigned long long>(r.mem.recurrent_state),
          static_cast<unsigned long long>(r.mem.compute),
          static_cast<unsigned long long>(r.mem.runtime),
          static_cast<unsigned long long>(r.mem.total()), r.fits ? "true" : "false", r.tok_s);
    }
    std::printf("]}\n");
    return;
  }
  std::printf("RAM %s (usable %s), context %lld x %d sequence(s), bandwidth %.1f GB/s%s\n\n",
              engine::format_bytes(ram).c_str(), engine::format_bytes(usable).c_str(),
              static_cast<long long>(args.ctx), args.parallel, bw,
              args.bandwidth_gbs > 0 ? " (given)" : " (measured)");
  std::printf("%-18s %-7s %7s %11s %11s %10s %11s %5s %9s\n", "MODEL", "QUANT", "PARAMS", "WEIGHTS",
              "KV CACHE", "STATE", "TOTAL", "FITS", "DECODE");
  for (const Row& r : rows) {
    std::printf("%-18s %-7s %6.1fB %11s %11s %10s %11s %5s %6.1f t/s\n", r.name.c_str(), r.quant,
                static_cast<double>(r.params) / 1e9, engine::format_bytes(r.mem.weights).c_str(),
                engine::format_bytes(r.mem.kv_cache).c_str(),
                engine::format_bytes(r.mem.recurrent_state).c_str(),
                engine::format_bytes(r.mem.total()).c_str(), r.fits ? "yes" : "no", r.tok_s);
  }
  std::printf(
      "\nKV cache counts only the full-attention layers (1 in 4); DeltaNet layers keep a fixed "
      "state.\n"
      "Decode speed is an upper bound from memory bandwidth (weights read once per token).\n");
}

}  // namespace

void register_fit_commands(CLI::App& app) {
  auto args = std::make_shared<FitArgs>();
  CLI::App* fit = app.add_subcommand(
      "fit", "which Qwen3.5 sizes and quantisations fit this machine, and how fast");
  fit->add_option("--ram", args->ram, "memory to plan for, e.g. 16G (default: this machine's RAM)");
  fit->add_option("--ctx", args->ctx, "context length per sequence")->capture_default_str();
  fit->add_option("--parallel", args->parallel, "sequences served at once")->capture_default_str();
  fit->add_option("--bandwidth", args->bandwidth_gbs,
                  "memory bandwidth in GB/s (default: measured)");
  fit->add_flag("--json", args->json, "machine-readable output");
  fit->add_option("--model", args->model,
                  "estimate this model (store name or .gguf) instead of the table");
  fit->callback([args] { fit_command(*args); });
}

}  // namespace hearth::cli
