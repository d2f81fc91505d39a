// Tool subcommands: `quantize` (GGUF -> GGUF with llama-quantize's type mixing), `convert`
// (Hugging Face folder -> GGUF) and `bench` (llama-bench style prefill / decode throughput with
// the achieved weight bandwidth next to a measured streaming-read bandwidth).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/thread_pool.h"
#include "base/timer.h"
#include "cli/bench_engine.h"
#include "cli/commands.h"
#include "convert/convert.h"
#include "convert/quantize.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace hearth::cli {

namespace {

// A bar on a terminal, one line per tensor otherwise (logs, CI).
convert::ProgressFn progress_printer() {
  const bool tty = isatty(fileno(stderr)) != 0;
  return [tty](int64_t done, int64_t total, const std::string& name) {
    if (tty) {
      const int width = 30;
      const int filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
      std::fprintf(stderr, "\r[%s%s] %lld/%lld %-40.40s", std::string(filled, '#').c_str(),
                   std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
                   static_cast<long long>(total), name.c_str());
      if (done == total) std::fprintf(stderr, "\n");
    } else {
      std::fprintf(stderr, "[%lld/%lld] %s\n", static_cast<long long>(done),
                   static_cast<long long>(total), name.c_str());
    }
    std::fflush(stderr);
  };
}

Result<model::FileType> parse_type(const std::string& name) {
  auto t = model::file_type_from_name(name);
  if (!t) {
    return invalid_argument_error("unknown type '" + name +
                                  "' (f32, f16, bf16, q8_0, q4_0, q4_k_m, q6_k)");
  }
  return *t;
}

}  // namespace

Status write_model_file(ModelSource source, const std::string& in, const std::string& out,
                        const std::string& type_name, int threads) {
  HEARTH_ASSIGN_OR_RETURN(model::FileType type, parse_type(type_name));
  ThreadPool pool(threads);
  Stopwatch sw;
  if (source == ModelSource::kGguf) {
    HEARTH_RETURN_IF_ERROR(convert::quantize_model(in, out, type, pool, progress_printer()));
  } else {
    HEARTH_RETURN_IF_ERROR(convert::convert_hf(in, out, type, pool, progress_printer()));
  }
  std::printf("wrote %s (%s) in %.1f s\n", out.c_str(), model::file_type_name(type),
              sw.elapsed_s());
  return Status::ok();
}

Status check_model_type_name(const std::string& type_name) {
  return parse_type(type_name).status();
}

namespace {

struct QuantizeArgs {
  std::string in, out, type;
  int threads = 0;
};

struct ConvertArgs {
  std::string dir, out, type = "f16";
  int threads = 0;
};

struct BenchArgs {
  std::string model;
  int n_prompt = 512, n_gen = 128, threads = 2, reps = 3;
  bool json = false;
  int parallel = 0;       // > 0: also aggregate decode of this many concurrent streams
  int64_t reuse_ctx = 0;  // > 0: also follow-up-turn TTFT after a conversation this long
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

struct BenchResult {
  std::string test;
  int n_tokens = 0;
  double tps = 0;  // median tokens / s
  double tps_stddev = 0;
  double gbps = 0;  // tg only: weight bytes per token * tok/s
};

Status run_bench(const BenchArgs& a) {
  if (a.n_prompt < 0 || a.n_gen < 0 || a.reps < 1 || a.threads < 1) {
    return invalid_argument_error("bench: -p, -n must be >= 0, -r and -t >= 1");
  }
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> m, model::Model::load(a.model));
  const gguf::GgufFile& f = m->file();
  const model::HParams& hp = m->hparams();
  const bool tied = f.find_tensor("output.weight") == nullptr;
  // Bytes one decode step reads: every matrix once, one embedding row (or the whole embedding
  // when it is also the output head), k of E experts.
  uint64_t size_bytes = 0, n_params = 0;
  double per_token = 0;
  for (const auto& t : f.tensors()) {
    size_bytes += t.n_bytes;
    n_params += t.n_elements;
    if (t.name == "token_embd.weight" && !tied) {
      per_token += static_cast<double>(t.n_bytes) / static_cast<double>(t.ne[1]);
    } else if (t.name.find("_exps") != std::string::npos && hp.n_expert > 0) {
      per_token += static_cast<double>(t.n_bytes) * hp.n_expert_used / hp.n_expert;
    } else {
      per_token += static_cast<double>(t.n_bytes);
    }
  }
  std::string type_name = "?";
  if (auto ft = f.get_u64("general.file_type"); ft.is_ok()) {
    for (auto t : {model::FileType::kF32, model::FileType::kF16, model::FileType::kBF16,
                   model::FileType::kQ8_0, model::FileType::kQ4_0, model::FileType::kQ4_K_M,
                   model::FileType::kQ6_K}) {
      if (model::llama_ftype(t) == *ft) type_name = model::file_type_name(t);
    }
  }
  std::string label = model::arch_name(hp.arch);
  if (auto sl = f.get_string("general.size_label"); sl.is_ok()) label += " " + *sl;
  label += " " + type_name;

  ThreadPool pool(a.threads);
  std::mt19937 rng(1234);
  auto random_tokens = [&](int n) {
    std::vector<int32_t> v(n);
    for (auto& x : v) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(m->n_vocab()));
    return v;
  };
  std::vector<float> logits(static_cast<size_t>(m->n_vocab()));
  auto run_pp = [&](int n) -> Result<double> {
    model::SequenceState s = m->new_sequence();
    const auto toks = random_tokens(n);
    model::BatchEntry e{&s, toks, model::LogitsMode::kLast, logits.data()};
    Stopwatch sw;
    HEARTH_RETURN_IF_ERROR(m->forward(std::span<model::BatchEntry>(&e, 1), pool));
    return sw.elapsed_s();
  };
  auto run_tg = [&](int n) -> Result<double> {
    model::SequenceState s = m->new_sequence();
    const auto toks = random_tokens(n);
    Stopwatch sw;
    for (int i = 0; i < n; ++i) {
      model::BatchEntry e{&s, std::span<const int32_t>(&toks[i], 1), model::LogitsMode::kLast,
                          logits.data()};
      HEARTH_RETURN_IF_ERROR(m->forward(std::span<model::BatchEntry>(&e, 1), pool));
    }
    return sw.elapsed_s();
  };
  // Warm-up: page in the weights and the caches.
  HEARTH_RETURN_IF_ERROR(run_pp(std::min(a.n_prompt > 0 ? a.n_prompt : 1, 32)).status());
  HEARTH_RETURN_IF_ERROR(run_tg(2).status());

  std::vector<BenchResult> results;
  auto measure = [&](const std::string& test, int n, bool tg) -> Status {
    std::vector<double> tps;
    for (int r = 0; r < a.reps; ++r) {
      HEARTH_ASSIGN_OR_RETURN(double secs, tg ? run_tg(n) : run_pp(n));
      tps.push_back(n / secs);
    }
    BenchResult br;
    br.test = test;
    br.n_tokens = n;
    br.tps = median(tps);
    double mean = 0, var = 0;
    for (double x : tps) mean += x / tps.size();
    for (double x : tps) var += (x - mean) * (x - mean) / tps.size();
    br.tps_stddev = std::sqrt(var);
    if (tg) br.gbps = per_token * br.tps * 1e-9;
    results.push_back(br);
    return Status::ok();
  };
  if (a.n_prompt > 0)
    HEARTH_RETURN_IF_ERROR(measure("pp" + std::to_string(a.n_prompt), a.n_prompt, false));
  if (a.n_gen > 0) HEARTH_RETURN_IF_ERROR(measure("tg" + std::to_string(a.n_gen), a.n_gen, true));
  const double probe = kernels::measure_read_bandwidth_gbs(pool);
  std::optional<ParallelBenchResult> par;
  std::optional<ReuseBenchResult> reuse;
  if (a.parallel > 0) {
    HEARTH_ASSIGN_OR_RETURN(
        ParallelBenchResult r,
        bench_parallel(a.model, a.parallel, a.n_gen > 1 ? a.n_gen : 32, a.threads));
    par = r;
  }
  if (a.reuse_ctx > 0) {
    HEARTH_ASSIGN_OR_RETURN(ReuseBenchResult r,
                            bench_prefix_reuse(a.model, a.reuse_ctx, a.threads));
    reuse = r;
  }

  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : results) {
      nlohmann::json j;
      j["model"] = label;
      j["model_file"] = a.model;
      j["model_size"] = size_bytes;
      j["model_n_params"] = n_params;
      j["weight_bytes_per_token"] = per_token;
      j["n_threads"] = a.threads;
      j["test"] = r.test;
      j["n_prompt"] = r.test.rfind("pp", 0) == 0 ? r.n_tokens : 0;
      j["n_gen"] = r.test.rfind("tg", 0) == 0 ? r.n_tokens : 0;
      j["repetitions"] = a.reps;
      j["avg_ts"] = r.tps;  // median, named like llama-bench's field
      j["stddev_ts"] = r.tps_stddev;
      if (r.gbps > 0) j["achieved_gbps"] = r.gbps;
      j["probe_read_gbps"] = probe;
      out.push_back(j);
    }
    if (par) {
      nlohmann::json j;
      j["model"] = label;
      j["test"] = "parallel" + std::to_string(par->streams);
      j["n_threads"] = a.threads;
      j["streams"] = par->streams;
      j["aggregate_ts"] = par->aggregate_tok_s;
      j["single_stream_ts"] = par->single_tok_s;
      j["speedup"] = par->speedup;
      out.push_back(j);
    }
    if (reuse) {
      nlohmann::json j;
      j["model"] = label;
      j["test"] = "prefix_reuse" + std::to_string(reuse->context_tokens);
      j["n_threads"] = a.threads;
      j["context_tokens"] = reuse->context_tokens;
      j["cached_tokens"] = reuse->cached_tokens;
      j["ttft_cold_s"] = reuse->cold_ttft_s;
      j["ttft_reuse_s"] = reuse->warm_ttft_s;
      out.push_back(j);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return Status::ok();
  }
  std::printf("| %-28s | %10s | %8s | %7s | %6s | %18s | %17s |\n", "model", "size", "params",
              "threads", "test", "t/s", "GB/s (probe)");
  std::printf("| %.28s | %.10s | %.8s | %.7s | %.6s | %.18s | %.17s |\n",
              "------------------------------", "------------", "----------", "---------",
              "--------", "--------------------", "-------------------");
  for (const auto& r : results) {
    char gb[64] = "";
    if (r.gbps > 0) std::snprintf(gb, sizeof gb, "%.2f (%.2f)", r.gbps, probe);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%.2f ± %.2f", r.tps, r.tps_stddev);
    std::printf("| %-28s | %6.2f GiB | %6.2f B | %7d | %6s | %18s | %17s |\n", label.c_str(),
                static_cast<double>(size_bytes) / (1ull << 30),
                static_cast<double>(n_params) * 1e-9, a.threads, r.test.c_str(), ts, gb);
  }
  if (par)
    std::printf(
        "\nparallel: %d streams, aggregate decode %.2f t/s vs %.2f t/s for one stream (%.2fx)\n",
        par->streams, par->aggregate_tok_s, par->single_tok_s, par->speedup);
  if (reuse)
    std::printf(
        "prefix reuse: follow-up turn after %lld tokens: time to first token %.3f s with reuse "
        "(%lld tokens from cache) vs %.3f s recomputed\n",
        static_cast<long long>(reuse->context_tokens), reuse->warm_ttft_s,
        static_cast<long long>(reuse->cached_tokens), reuse->cold_ttft_s);
  return Status::ok();
}

}  // namespace

void register_tool_commands(CLI::App& app) {
  auto q = std::make_shared<QuantizeArgs>();
  CLI::App* qc = app.add_subcommand("quantize", "re-encode a GGUF (llama-quantize type mixing)");
  qc->add_option("input", q->in, "input GGUF")->required();
  qc->add_option("output", q->out, "output GGUF")->required();
  qc->add_option("type", q->type, "f32 | f16 | bf16 | q8_0 | q4_0 | q4_k_m | q6_k")->required();
  qc->add_option("--threads,-t", q->threads, "threads (default: physical cores)");
  qc->callback([q] {
    Status s = write_model_file(ModelSource::kGguf, q->in, q->out, q->type, q->threads);
    if (!s.is_ok()) report_error(s);
  });

  auto c = std::make_shared<ConvertArgs>();
  CLI::App* cc = app.add_subcommand("convert", "convert a Hugging Face Qwen3.5 folder to GGUF");
  cc->add_option("hf_dir", c->dir, "folder with config.json, *.safetensors, tokenizer.json")
      ->required();
  cc->add_option("output", c->out, "output GGUF")->required();
  cc->add_option("--type", c->type, "f16 | bf16 | f32 | q8_0 | q4_0 | q4_k_m | q6_k")
      ->capture_default_str();
  cc->add_option("--threads,-t", c->threads, "threads (default: physical cores)");
  cc->callback([c] {
    Status s = write_model_file(ModelSource::kHuggingFace, c->dir, c->out, c->type, c->threads);
    if (!s.is_ok()) report_error(s);
  });

  auto b = std::make_shared<BenchArgs>();
  CLI::App* bc = app.add_subcommand("bench", "prefill / decode throughput (llama-bench style)");
  bc->add_option("--model,-m", b->model, "model GGUF")->required();
  bc->add_option("-p,--n-prompt", b->n_prompt, "prompt tokens (pp test; 0 = skip)")
      ->capture_default_str();
  bc->add_option("-n,--n-gen", b->n_gen, "generated tokens (tg test; 0 = skip)")
      ->capture_default_str();
  bc->add_option("-t,--threads", b->threads, "threads")->capture_default_str();
  bc->add_option("-r,--repetitions", b->reps, "repetitions (median reported)")
      ->capture_default_str();
  bc->add_flag("--json", b->json, "print JSON instead of a table");
  bc->add_option("--parallel", b->parallel,
                 "also measure aggregate decode of N concurrent streams");
  bc->add_option("--reuse-ctx", b->reuse_ctx,
                 "also measure time to first token of a follow-up turn after N tokens, with and "
                 "without prefix reuse");
  bc->callback([b] {
    Status s = run_bench(*b);
    if (!s.is_ok()) report_error(s);
  });
}

}  // namespace hearth::cli
