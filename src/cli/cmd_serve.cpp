// `hearth serve`: runs the OpenAI/Ollama-compatible HTTP server until SIGINT/SIGTERM. Models
// resolve from --model-path NAME=FILE pairs or from a .gguf path used as the model name (the
// model store's resolver is wired here later).
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <map>
#include <thread>

#include "cli/commands.h"
#include "server/server.h"
#include "store/model_name.h"
#include "store/model_store.h"

namespace hearth::cli {
namespace {

struct ServeArgs {
  std::string host;  // empty: HEARTH_HOST or 127.0.0.1:11434
  int parallel = 0;
  int64_t ctx = 0;
  int threads = 0;
  std::string keep_alive;
  std::vector<std::string> model_paths;  // NAME=FILE
};

bool file_info(const std::string& path, int64_t* size, int64_t* mtime) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *size = static_cast<int64_t>(st.st_size);
  *mtime = static_cast<int64_t>(st.st_mtime);
  return true;
}

Status run_serve(const ServeArgs& args) {
  server::ServerOptions opts;
  HEARTH_RETURN_IF_ERROR(opts.apply_environment());
  if (!args.host.empty())
    HEARTH_RETURN_IF_ERROR(server::parse_host_port(args.host, &opts.host, &opts.port));
  if (!args.keep_alive.empty()) {
    auto ka = server::parse_keep_alive(args.keep_alive);
    if (!ka.is_ok()) return ka.status().with_context("--keep-alive");
    opts.keep_alive = ka.value();
  }
  if (args.parallel > 0) opts.engine.max_sequences = args.parallel;
  if (args.ctx > 0) opts.engine.context_length = args.ctx;
  if (args.threads > 0) opts.engine.n_threads = args.threads;

  auto models = std::make_shared<std::map<std::string, std::string>>();
  for (const auto& pair : args.model_paths) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size())
      return invalid_argument_error("--model-path expects NAME=FILE, got '" + pair + "'");
    int64_t size = 0, mtime = 0;
    std::string file = pair.substr(eq + 1);
    if (!file_info(file, &size, &mtime))
      return not_found_error("--model-path: no such file '" + file + "'");
    (*models)[pair.substr(0, eq)] = file;
  }
  // Names resolve from --model-path pairs first, then from the model store (the same names as
  // `hearth run`), then as a path to a .gguf file.
  auto models_store = std::make_shared<store::ModelStore>(store::ModelStore::default_root());
  opts.resolve_model = [models, models_store](const std::string& name) -> Result<std::string> {
    if (auto it = models->find(name); it != models->end()) return it->second;
    const std::string suffix = ":latest";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      if (auto it = models->find(name.substr(0, name.size() - suffix.size())); it != models->end())
        return it->second;
    auto parsed = store::parse_model_name(name);
    if (!parsed.is_ok()) return not_found_error("model '" + name + "' not found (" + parsed.status().message() + ")");
    auto entry = models_store->resolve(*parsed);
    if (entry.is_ok()) return entry->gguf_path;
    if (entry.status().code() == ErrorCode::kNotFound)
      return not_found_error("model '" + name + "' not found; pull it with: hearth pull " + name);
    return entry.status();
  };
  opts.list_models = [models, models_store] {
    std::vector<server::ModelListing> out;
    for (const auto& [name, path] : *models) {
      server::ModelListing m;
      m.name = name;
      m.path = path;
      file_info(path, &m.size_bytes, &m.modified_unix);
      out.push_back(std::move(m));
    }
    if (auto entries = models_store->list(); entries.is_ok()) {
      for (const auto& e : *entries) {
        server::ModelListing m;
        m.name = e.name;
        m.path = e.gguf_path;
        m.size_bytes = static_cast<int64_t>(e.size);
        m.modified_unix = e.modified_unix;
        out.push_back(std::move(m));
      }
    }
    return out;
  };
  opts.delete_model = [models_store](const std::string& name) -> Status {
    HEARTH_ASSIGN_OR_RETURN(store::ModelName parsed, store::parse_model_name(name));
    return models_store->remove(parsed);
  };

  opts.pull_model = [models_store](const std::string& name,
                                   const std::function<void(const server::PullUpdate&)>& progress,
                                   const std::function<bool()>& cancelled) -> Status {
    HEARTH_ASSIGN_OR_RETURN(store::ModelName parsed, store::parse_model_name(name));
    store::PullOptions pull_options = store::pull_options_from_env();
    pull_options.progress = [&progress](const store::PullProgress& p) {
      progress(server::PullUpdate{p.status, p.digest, p.total, p.completed});
    };
    pull_options.cancelled = cancelled;
    return models_store->pull(parsed, pull_options);
  };

  // Signals go to one waiting thread, which stops the server (not async-signal code).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::Server server(opts);
  HEARTH_RETURN_IF_ERROR(server.bind());
  std::printf("hearth listening on http://%s:%d\n", opts.host.c_str(), server.port());
  std::fflush(stdout);
  std::thread waiter([&server, set] {
    int sig = 0;
    sigwait(&set, &sig);
    server.stop();
  });
  Status s = server.serve();
  pthread_kill(waiter.native_handle(), SIGTERM);  // releases the waiter if serve() ended alone
  waiter.join();
  return s;
}

}  // namespace

void register_serve_commands(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "run the OpenAI/Ollama-compatible API server (HEARTH_HOST, HEARTH_API_KEY, "
      "HEARTH_KEEP_ALIVE)");
  cmd->add_option("--host", args->host, "address to bind, HOST:PORT (default 127.0.0.1:11434)");
  cmd->add_option("--parallel", args->parallel, "sequences decoded together per model");
  cmd->add_option("--ctx", args->ctx, "context length per sequence");
  cmd->add_option("--threads", args->threads,
                  "compute threads per model (default: physical cores)");
  cmd->add_option("--keep-alive", args->keep_alive, "idle time before a model unloads (5m, -1)");
  cmd->add_option("--model-path", args->model_paths,
                  "serve FILE under NAME (NAME=FILE, repeatable)");
  cmd->callback([args] {
    Status s = run_serve(*args);
    if (!s.is_ok()) report_error(s);
  });
}

}  // namespace hearth::cli
