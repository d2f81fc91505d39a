// Subcommands of the model-store family, named and shaped like Ollama's: `hearth pull NAME`
// (progress bar on a terminal, plain lines otherwise), `hearth import FILE NAME`,
// `hearth list` / `ls`, `hearth show NAME`, `hearth rm NAME...`.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/timer.h"
#include "chat/chat_template.h"
#include "cli/commands.h"
#include "engine/memory_estimate.h"
#include "gguf/gguf_file.h"
#include "model/hparams.h"
#include "store/model_store.h"

namespace hearth::cli {
namespace {

using store::ModelName;
using store::ModelStore;

Result<ModelName> parse_name(const std::string& text) {
  return store::parse_model_name(text);
}

std::string format_duration(double s) {
  if (s < 0 || s > 1e7) return "--";
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return str_format("%" PRId64 "h%02" PRId64 "m", t / 3600, (t / 60) % 60);
  if (t >= 60) return str_format("%" PRId64 "m%02" PRId64 "s", t / 60, t % 60);
  return str_format("%" PRId64 "s", t);
}

// Renders PullProgress: a redrawn bar (bytes, rate, ETA) on a terminal, else one line per step
// plus a line every 10 % of a blob, so logs stay short.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool tty) : tty_(tty) {}

  void operator()(const store::PullProgress& p) {
    bool blob = !p.digest.empty() && p.status.rfind("pulling ", 0) == 0;
    if (p.status != status_) {
      finish_line();
      status_ = p.status;
      started_.reset();
      start_completed_ = p.completed;
      last_decile_ = -1;
      last_draw_s_ = -1;
      if (!blob) std::fprintf(stderr, "%s\n", p.status.c_str());
    }
    if (!blob) return;
    double elapsed = started_.elapsed_s();
    double rate = elapsed > 0.05 ? (p.completed - start_completed_) / elapsed : 0;
    double eta = rate > 0 && p.total > p.completed ? (p.total - p.completed) / rate : -1;
    int pct = p.total ? static_cast<int>(100.0 * p.completed / p.total) : 0;
    bool done = p.total && p.completed >= p.total;
    if (tty_) {
      if (!done && elapsed - last_draw_s_ < 0.1) return;  // redraw at most 10 times a second
      last_draw_s_ = elapsed;
      constexpr int kWidth = 24;
      int filled = p.total ? static_cast<int>(kWidth * double(p.completed) / p.total) : 0;
      std::string bar(static_cast<size_t>(std::clamp(filled, 0, kWidth)), '#');
      bar.resize(kWidth, '.');
      std::fprintf(stderr, "\r%s %3d%% [%s] %s/%s  %s/s  %s   ", p.status.c_str(), pct, bar.c_str(),
                   store::human_size(p.completed).c_str(), store::human_size(p.total).c_str(),
                   store::human_size(uint64_t(rate)).c_str(),
                   done ? "done" : ("ETA " + format_duration(eta)).c_str());
      std::fflush(stderr);
      line_open_ = true;
    } else {
      int decile = done ? 10 : pct / 10;
      if (decile == last_decile_) return;
      last_decile_ = decile;
      std::fprintf(stderr, "%s %3d%% %s/%s %s/s ETA %s\n", p.status.c_str(), pct,
                   store::human_size(p.completed).c_str(), store::human_size(p.total).c_str(),
                   store::human_size(uint64_t(rate)).c_str(), format_duration(eta).c_str());
    }
  }
  void finish_line() {
    if (line_open_) std::fprintf(stderr, "\n");
    line_open_ = false;
  }

 private:
  bool tty_;
  std::string status_;
  Stopwatch started_;
  uint64_t start_completed_ = 0;
  int last_decile_ = -1;
  double last_draw_s_ = -1;
  bool line_open_ = false;
};

Status run_pull(const std::string& text) {
  HEARTH_ASSIGN_OR_RETURN(ModelName name, parse_name(text));
  ModelStore models(ModelStore::default_root());
  store::PullOptions options = store::pull_options_from_env();
  auto printer = std::make_shared<ProgressPrinter>(::isatty(STDERR_FILENO) != 0);
  options.progress = [printer](const store::PullProgress& p) { (*printer)(p); };
  Status s = models.pull(name, options);
  printer->finish_line();
  return s;
}

Status run_import(const std::string& file, const std::string& text) {
  HEARTH_ASSIGN_OR_RETURN(ModelName name, parse_name(text));
  ModelStore models(ModelStore::default_root());
  HEARTH_ASSIGN_OR_RETURN(store::ModelEntry entry, models.import_gguf(file, name));
  std::printf("imported '%s' (%s, %s)\n", entry.name.c_str(), entry.id.c_str(),
              store::human_size(entry.size).c_str());
  return Status::ok();
}

struct CreateArgs {
  std::string name;
  std::string from;  // Hugging Face folder, or a .gguf
  std::string type;  // empty: f16 from a folder; a .gguf as it is
  bool force = false;
  int threads = 0;
};

// Removes a temporary file when the scope ends, however it ends.
struct TempFileGuard {
  std::string path;
  ~TempFileGuard() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

// Builds the model file in the store's tmp/ (same filesystem, cleaned up on any failure), then
// imports it, which installs blob and manifest atomically: a failed create leaves no name behind,
// and a replaced name (--force) keeps working until the new manifest is in place.
Status run_create(const CreateArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(ModelName name, parse_name(args.name));
  if (name.is_local_file()) {
    return invalid_argument_error("the model name must look like 'mymodel:tag', not a file path");
  }
  if (!args.type.empty()) HEARTH_RETURN_IF_ERROR(check_model_type_name(args.type));
  struct stat st {};
  if (::stat(args.from.c_str(), &st) != 0) {
    return not_found_error("--from: no such folder or file '" + args.from + "'");
  }
  const bool from_folder = S_ISDIR(st.st_mode);
  if (!from_folder && !S_ISREG(st.st_mode)) {
    return invalid_argument_error("--from must be a Hugging Face folder or a .gguf file");
  }
  if (from_folder && ::access((args.from + "/config.json").c_str(), R_OK) != 0) {
    return not_found_error("--from: '" + args.from +
                           "' has no config.json (expected a Hugging Face Qwen3.5 folder)");
  }
  ModelStore models(ModelStore::default_root());
  std::vector<std::string> replaced_blobs;  // of the model --force replaces, pruned at the end
  if (auto existing = models.resolve(name); existing.is_ok()) {
    if (!args.force) {
      return Status(ErrorCode::kAlreadyExists,
                    "model '" + name.display() + "' already exists; use --force to replace it");
    }
    if (auto old = models.read_manifest(name); old.is_ok()) replaced_blobs = old->digests();
  }
  auto finish = [&](const store::ModelEntry& entry) {
    if (!replaced_blobs.empty()) {
      Status pruned = models.prune_blobs(replaced_blobs);
      if (!pruned.is_ok()) std::fprintf(stderr, "warning: %s\n", pruned.message().c_str());
    }
    std::printf("created '%s' (%s, %s)\n", entry.name.c_str(), entry.id.c_str(),
                store::human_size(entry.size).c_str());
    return Status::ok();
  };
  if (!from_folder && args.type.empty()) {
    // A GGUF kept as it is: nothing to build.
    HEARTH_ASSIGN_OR_RETURN(store::ModelEntry entry, models.import_gguf(args.from, name));
    return finish(entry);
  }
  const std::string tmp_dir = models.root() + "/tmp";
  std::error_code ec;
  std::filesystem::create_directories(tmp_dir, ec);
  if (ec) return io_error("cannot create '" + tmp_dir + "': " + ec.message());
  std::string tmpl = tmp_dir + "/create-XXXXXX.gguf";
  int fd = ::mkstemps(tmpl.data(), 5);
  if (fd < 0) return io_error("cannot create a temporary file in '" + tmp_dir + "'");
  ::close(fd);
  TempFileGuard guard{tmpl};
  const std::string type = args.type.empty() ? "f16" : args.type;
  HEARTH_RETURN_IF_ERROR(
      write_model_file(from_folder ? ModelSource::kHuggingFace : ModelSource::kGguf, args.from,
                       tmpl, type, args.threads));
  HEARTH_ASSIGN_OR_RETURN(store::ModelEntry entry, models.import_gguf(tmpl, name));
  return finish(entry);
}

Status run_list() {
  ModelStore models(ModelStore::default_root());
  HEARTH_ASSIGN_OR_RETURN(auto entries, models.list());
  size_t width = 4;
  for (const auto& e : entries) width = std::max(width, e.name.size());
  std::printf("%-*s    %-12s    %-8s    %s\n", int(width), "NAME", "ID", "SIZE", "MODIFIED");
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& e : entries) {
    std::printf("%-*s    %-12s    %-8s    %s\n", int(width), e.name.c_str(), e.id.c_str(),
                store::human_size(e.size).c_str(), store::human_age(now - e.modified_unix).c_str());
  }
  return Status::ok();
}

// "9.7B", "752M".
std::string param_count(uint64_t n) {
  if (n >= 1000000000ull) return str_format("%.1fB", n / 1e9);
  if (n >= 1000000ull) return str_format("%.0fM", n / 1e6);
  return str_format("%.0fK", n / 1e3);
}

// Memory one instance with one sequence needs at a few contexts: the model's default serving
// context (min(model's, 32768), as `hearth run` and `hearth serve` use) and 4096 / 32768.
void print_memory_section(const gguf::GgufFile& file, const model::HParams& hp) {
  const int64_t model_ctx = hp.context_length > 0 ? hp.context_length : 32768;
  const int64_t default_ctx = std::min<int64_t>(model_ctx, 32768);
  std::vector<int64_t> contexts = {4096, 32768, default_ctx};
  std::sort(contexts.begin(), contexts.end());
  contexts.erase(std::unique(contexts.begin(), contexts.end()), contexts.end());
  std::printf("\n  Memory (estimate, 1 sequence)\n");
  std::printf("    %-10s %11s %11s %11s %11s %11s %11s\n", "context", "weights", "KV cache",
              "state", "compute", "runtime", "total");
  for (int64_t ctx : contexts) {
    if (ctx > model_ctx) continue;
    auto m = engine::estimate_memory_for_file(file, ctx, 1);
    if (!m.is_ok()) {
      std::printf("    unavailable: %s\n", m.status().message().c_str());
      return;
    }
    std::printf("    %-10s %11s %11s %11s %11s %11s %11s\n",
                (std::to_string(ctx) + (ctx == default_ctx ? "*" : "")).c_str(),
                engine::format_bytes(m->weights).c_str(), engine::format_bytes(m->kv_cache).c_str(),
                engine::format_bytes(m->recurrent_state).c_str(),
                engine::format_bytes(m->compute).c_str(), engine::format_bytes(m->runtime).c_str(),
                engine::format_bytes(m->total()).c_str());
  }
  std::printf(
      "    * default context. Assumes: f16 KV for the %lld full-attention layer(s) only, filled "
      "to\n"
      "      the context; f32 DeltaNet state for the %lld recurrent layer(s); compute buffers of "
      "a\n"
      "      512-token prefill step; weights mmap'd (resident once read); runtime = the process,\n"
      "      parsed metadata and tokenizer tables (measured per vocabulary entry). Not included:\n"
      "      prefix-cache checkpoints (up to 1 GiB), q8_0 KV (halves the KV column), more "
      "parallel\n"
      "      sequences (multiply KV + state; see `hearth fit --model`).\n",
      static_cast<long long>(hp.n_attention_layers()),
      static_cast<long long>(hp.n_recurrent_layers()));
}

Status run_show(const std::string& text) {
  HEARTH_ASSIGN_OR_RETURN(ModelName name, parse_name(text));
  ModelStore models(ModelStore::default_root());
  HEARTH_ASSIGN_OR_RETURN(store::ModelEntry entry, models.resolve(name));
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::open(entry.gguf_path));
  auto row = [](const char* key, const std::string& value) {
    std::printf("    %-20s %s\n", key, value.c_str());
  };
  std::string arch = file.get_string("general.architecture").is_ok()
                         ? *file.get_string("general.architecture")
                         : "unknown";
  uint64_t params = 0;
  for (const auto& t : file.tensors()) params += t.n_elements;
  std::printf("  Model\n");
  row("name", entry.name);
  row("architecture", arch);
  row("parameters", param_count(params));
  auto hp = model::read_hparams(file);
  if (hp.is_ok()) {
    row("context length", std::to_string(hp->context_length));
    row("embedding length", std::to_string(hp->n_embd));
  }
  auto ft = file.get_u64("general.file_type");
  row("quantization", ft.is_ok() ? store::gguf_file_type_name(*ft) : "unknown");
  if (hp.is_ok()) {
    row("layers", str_format("%" PRId64 " GDN + %" PRId64 " attention", hp->n_recurrent_layers(),
                             hp->n_attention_layers()));
    if (hp->n_expert > 0) {
      row("experts",
          str_format("%" PRId64 " (%" PRId64 " used per token)", hp->n_expert, hp->n_expert_used));
    }
  } else {
    row("layers", "unknown (" + hp.status().message() + ")");
  }
  auto tmpl = file.get_string("tokenizer.chat_template");
  row("template", !tmpl.is_ok()                     ? "none (Qwen3.5 built in)"
                  : chat::is_qwen35_template(*tmpl) ? "Qwen3.5"
                                                    : "custom");
  row("file size", store::human_size(file.file_size()));
  if (!entry.id.empty()) row("id", entry.id);
  row("path", entry.gguf_path);
  if (hp.is_ok()) print_memory_section(file, *hp);
  auto general_name = file.get_string("general.name");
  if (general_name.is_ok() && general_name->rfind("hearth synthetic", 0) == 0) {
    std::printf("\n  Note: a synthetic model with random weights: its text is noise.\n");
  }
  return Status::ok();
}

Status run_rm(const std::vector<std::string>& names) {
  ModelStore models(ModelStore::default_root());
  for (const std::string& text : names) {
    HEARTH_ASSIGN_OR_RETURN(ModelName name, parse_name(text));
    HEARTH_RETURN_IF_ERROR(models.remove(name));
    std::printf("deleted '%s'\n", name.display().c_str());
  }
  return Status::ok();
}

}  // namespace

void register_store_commands(CLI::App& app) {
  auto name = std::make_shared<std::string>();
  CLI::App* pull = app.add_subcommand(
      "pull", "download a model (qwen3.5:9b, hf.co/OWNER/REPO:QUANT) into the model store");
  pull->add_option("name", *name, "model name")->required();
  pull->footer(
      "Store: $HEARTH_MODELS (default ~/.hearth/models). Registry: $HEARTH_REGISTRY "
      "(default https://registry.ollama.ai). Hugging Face: $HF_ENDPOINT, $HF_TOKEN.");
  pull->callback([name] {
    Status s = run_pull(*name);
    if (!s.is_ok()) report_error(s);
  });

  auto import_file = std::make_shared<std::string>();
  auto import_name = std::make_shared<std::string>();
  CLI::App* imp = app.add_subcommand("import", "copy a Qwen3.5 GGUF into the model store");
  imp->add_option("file", *import_file, "GGUF file")->required();
  imp->add_option("name", *import_name, "model name, e.g. mymodel:q4")->required();
  imp->callback([import_file, import_name] {
    Status s = run_import(*import_file, *import_name);
    if (!s.is_ok()) report_error(s);
  });

  auto create_args = std::make_shared<CreateArgs>();
  CLI::App* create = app.add_subcommand(
      "create", "build a model from a Hugging Face folder (or a GGUF) and add it to the store");
  create->add_option("name", create_args->name, "model name, e.g. mymodel:q4")->required();
  create->add_option("--from", create_args->from, "Hugging Face Qwen3.5 folder or .gguf file")
      ->required();
  create->add_option("--type,-q,--quantize", create_args->type,
                     "f16 | bf16 | f32 | q8_0 | q4_0 | q4_k_m | q6_k (default: f16 from a folder, "
                     "a .gguf kept as it is)");
  create->add_flag("--force", create_args->force, "replace a model of the same name");
  create->add_option("--threads,-t", create_args->threads, "threads (default: physical cores)");
  create->callback([create_args] {
    Status s = run_create(*create_args);
    if (!s.is_ok()) report_error(s);
  });

  CLI::App* list = app.add_subcommand("list", "list the models in the store");
  list->alias("ls");
  list->callback([] {
    Status s = run_list();
    if (!s.is_ok()) report_error(s);
  });

  auto show_name = std::make_shared<std::string>();
  CLI::App* show = app.add_subcommand("show", "show a model's architecture, size and quantisation");
  show->add_option("name", *show_name, "model name or .gguf path")->required();
  show->callback([show_name] {
    Status s = run_show(*show_name);
    if (!s.is_ok()) report_error(s);
  });

  auto rm_names = std::make_shared<std::vector<std::string>>();
  CLI::App* rm = app.add_subcommand("rm", "remove models from the store");
  rm->add_option("names", *rm_names, "model names")->required();
  rm->callback([rm_names] {
    Status s = run_rm(*rm_names);
    if (!s.is_ok()) report_error(s);
  });
}

}  // namespace hearth::cli
