// `hearth run MODEL [PROMPT]`: one-shot generation (prompt from the arguments and/or stdin) or an
// interactive chat with line editing, /commands, streaming output, dimmed reasoning, and Ctrl-C
// cancelling the answer in progress (not the session).
#include <editline/readline.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "base/log.h"
#include "base/timer.h"
#include "chat/output_parser.h"
#include "cli/commands.h"
#include "engine/loaded_model.h"
#include "store/model_name.h"
#include "store/model_store.h"

namespace hearth::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void on_sigint(int) {
  g_interrupted.store(true);
}

struct RunArgs {
  std::string model;
  std::vector<std::string> prompt;
  bool hide_thinking = false;
  std::string think;  // "", "on", "off"
  int64_t ctx = 0;
  int threads = 0;
  float temperature = -1;  // < 0: model default (Qwen3.5: 1.0 thinking, 0.7 otherwise)
  int64_t seed = -1;
  int64_t max_tokens = -1;
  bool verbose = false;
  bool cpu = false;
  bool print_peak_memory = false;
};

// Peak resident memory of this process (VmHWM), bytes; 0 when /proc is unavailable.
uint64_t peak_resident_bytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) break;
  }
  std::fclose(f);
  return static_cast<uint64_t>(kib) * 1024;
}

// The demo model: a tiny synthetic Qwen3.5 with random weights, made on first use and registered
// in the store as `demo`.
Result<std::string> ensure_demo_model(store::ModelStore& models) {
  auto demo_name = store::parse_model_name("demo");
  if (!demo_name.is_ok()) return demo_name.status();
  if (auto entry = models.resolve(*demo_name); entry.is_ok()) return entry->gguf_path;
  char tmpl[] = "/tmp/hearth-demo-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return io_error("cannot create a temporary file for the demo model");
  close(fd);
  std::string tmp = std::string(tmpl) + ".gguf";
  std::fprintf(stderr, "creating the demo model (tiny synthetic Qwen3.5, random weights)...\n");
  pid_t pid = fork();
  if (pid < 0) return io_error("fork failed");
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
    execl("/proc/self/exe", "hearth", "make-test-model", "--arch", "qwen35", "--size", "tiny",
          "--type", "q8_0", "--seed", "1", "--out", tmp.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  unlink(tmpl);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return internal_error("creating the demo model failed");
  auto entry = models.import_gguf(tmp, *demo_name);
  unlink(tmp.c_str());
  if (!entry.is_ok()) return entry.status();
  return entry->gguf_path;
}

Result<std::string> resolve_model(const std::string& name) {
  store::ModelStore models(store::ModelStore::default_root());
  if (name == "demo") return ensure_demo_model(models);
  HEARTH_ASSIGN_OR_RETURN(store::ModelName parsed, store::parse_model_name(name));
  auto entry = models.resolve(parsed);
  if (entry.is_ok()) return entry->gguf_path;
  if (entry.status().code() == ErrorCode::kNotFound &&
      parsed.kind != store::ModelName::Kind::kLocalFile)
    return not_found_error("model '" + name + "' is not in the store; get it with: hearth pull " +
                           name);
  return entry.status();
}

bool stdout_is_tty() {
  return isatty(STDOUT_FILENO) != 0;
}

// Streams one answer to stdout. Returns the assistant message for the history.
Result<chat::Message> answer(engine::LoadedModel& lm, const chat::ChatRequest& request,
                             const RunArgs& args, bool show_stats) {
  HEARTH_ASSIGN_OR_RETURN(std::string prompt, lm.chat_template->render(request));
  HEARTH_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                          lm.tokenizer->encode(prompt, /*parse_special=*/true));
  engine::Request req;
  req.prompt = std::move(ids);
  // Qwen3.5's published sampling defaults: thinking 1.0/0.95/20, instruct 0.7/0.8/20.
  req.sampling.temperature =
      args.temperature >= 0 ? args.temperature : (request.enable_thinking ? 1.0f : 0.7f);
  req.sampling.top_p = request.enable_thinking ? 0.95f : 0.8f;
  req.sampling.top_k = 20;
  if (args.seed >= 0) req.sampling.seed = static_cast<uint64_t>(args.seed);
  req.max_tokens = args.max_tokens;
  auto handle = lm.engine->submit(std::move(req));
  if (!handle.is_ok()) return handle.status();

  const bool tty = stdout_is_tty();
  const char* dim = tty ? "\x1b[2m" : "";
  const char* reset = tty ? "\x1b[0m" : "";
  chat::OutputParser parser(chat::output_parser_options_for(request));
  chat::Message msg;
  msg.role = "assistant";
  std::string content, reasoning;
  bool in_reasoning_print = false;
  auto print_events = [&](const std::vector<chat::ParseEvent>& events) {
    for (const auto& ev : events) {
      switch (ev.kind) {
        case chat::ParseEvent::Kind::kReasoningDelta:
          reasoning += ev.text;
          if (!args.hide_thinking) {
            if (!in_reasoning_print) {
              std::fputs(dim, stdout);
              std::fputs("Thinking...\n", stdout);
              in_reasoning_print = true;
            }
            std::fputs(ev.text.c_str(), stdout);
          }
          break;
        case chat::ParseEvent::Kind::kContentDelta:
          if (in_reasoning_print) {
            std::fputs("\n...done thinking.\n\n", stdout);
            std::fputs(reset, stdout);
            in_reasoning_print = false;
          }
          content += ev.text;
          std::fputs(ev.text.c_str(), stdout);
          break;
        case chat::ParseEvent::Kind::kToolCall:
          std::fprintf(stdout, "\n[tool call] %s\n", ev.tool_call.raw.c_str());
          msg.tool_calls.push_back({"", ev.tool_call.name, ev.tool_call.arguments});
          break;
        case chat::ParseEvent::Kind::kToolCallError:
          std::fprintf(stdout, "\n[unparsed tool call: %s] %s\n", ev.error.c_str(),
                       ev.text.c_str());
          break;
      }
      std::fflush(stdout);
    }
  };
  Stopwatch clock;
  double first_token_s = -1;
  engine::Usage usage;
  engine::FinishReason finish = engine::FinishReason::kStop;
  Status error;
  for (;;) {
    if (g_interrupted.exchange(false)) (*handle)->cancel();
    auto ev = (*handle)->next(std::chrono::milliseconds(50));
    if (!ev) continue;
    if (first_token_s < 0) first_token_s = clock.elapsed_s();
    print_events(parser.feed(ev->text));
    if (ev->kind == engine::Event::Kind::kFinished) {
      usage = ev->usage;
      finish = ev->finish;
      error = ev->error;
      break;
    }
  }
  print_events(parser.finish());
  if (in_reasoning_print) std::fputs(reset, stdout);
  std::fputs("\n", stdout);
  if (finish == engine::FinishReason::kCancelled) std::fputs("(cancelled)\n", stdout);
  if (finish == engine::FinishReason::kLength)
    std::fputs("(stopped: length limit reached)\n", stdout);
  if (finish == engine::FinishReason::kError) return error;
  std::fflush(stdout);
  if (show_stats) {
    double total = clock.elapsed_s();
    double decode_s = total - first_token_s;
    std::fprintf(stderr, "prompt eval count:    %lld token(s) (%lld from cache)\n",
                 static_cast<long long>(usage.prompt_tokens),
                 static_cast<long long>(usage.cached_tokens));
    std::fprintf(stderr, "prompt eval duration: %.3fs\n", first_token_s);
    std::fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n",
                 (usage.prompt_tokens - usage.cached_tokens) / std::max(first_token_s, 1e-9));
    std::fprintf(stderr, "eval count:           %lld token(s)\n",
                 static_cast<long long>(usage.completion_tokens));
    std::fprintf(stderr, "eval duration:        %.3fs\n", decode_s);
    std::fprintf(stderr, "eval rate:            %.2f tokens/s\n",
                 usage.completion_tokens > 1
                     ? (usage.completion_tokens - 1) / std::max(decode_s, 1e-9)
                     : 0.0);
  }
  msg.content = chat::MessageContent::from_text(content);
  if (!reasoning.empty()) msg.reasoning_content = reasoning;
  return msg;
}

const char* kHelp =
    "Available commands:\n"
    "  /think on|off           turn thinking mode on or off\n"
    "  /set temperature VALUE  set the sampling temperature\n"
    "  /set seed VALUE         set the random seed\n"
    "  /clear                  forget the conversation\n"
    "  /bye                    exit\n"
    "  \"\"\"                     begin or end a multi-line message\n";

int run_interactive(engine::LoadedModel& lm, RunArgs args) {
  chat::ChatRequest conversation;
  conversation.enable_thinking = args.think != "off";
  std::printf("Type a message, /? for help, /bye to exit.\n");
  for (;;) {
    g_interrupted.store(false);
    char* line = readline(">>> ");
    if (!line) break;  // Ctrl-D
    std::string text(line);
    std::free(line);
    if (text.empty()) continue;
    add_history(text.c_str());
    if (text.rfind("\"\"\"", 0) == 0) {  // multi-line block
      std::string block = text.substr(3);
      for (;;) {
        char* more = readline("... ");
        if (!more) break;
        std::string m(more);
        std::free(more);
        size_t end = m.find("\"\"\"");
        if (end != std::string::npos) {
          block += "\n" + m.substr(0, end);
          break;
        }
        block += "\n" + m;
      }
      text = block;
      if (!text.empty() && text[0] == '\n') text.erase(0, 1);
    } else if (text[0] == '/') {
      std::istringstream in(text);
      std::string cmd, a, b;
      in >> cmd >> a >> b;
      if (cmd == "/bye" || cmd == "/exit") break;
      if (cmd == "/?" || cmd == "/help") {
        std::fputs(kHelp, stdout);
      } else if (cmd == "/clear") {
        conversation.messages.clear();
        std::puts("Cleared session context.");
      } else if (cmd == "/think" && (a == "on" || a == "off" || a.empty())) {
        conversation.enable_thinking = a != "off";
        std::printf("Thinking %s.\n", conversation.enable_thinking ? "on" : "off");
      } else if (cmd == "/set" && a == "temperature" && !b.empty()) {
        args.temperature = std::strtof(b.c_str(), nullptr);
        std::printf("Set temperature to %g.\n", args.temperature);
      } else if (cmd == "/set" && a == "seed" && !b.empty()) {
        args.seed = std::strtoll(b.c_str(), nullptr, 10);
        std::printf("Set seed to %lld.\n", static_cast<long long>(args.seed));
      } else if (cmd == "/set" && (a == "think" || a == "nothink")) {
        conversation.enable_thinking = a == "think";
      } else {
        std::printf("Unknown command '%s'. Type /? for help.\n", text.c_str());
      }
      continue;
    }
    chat::Message user;
    user.role = "user";
    user.content = chat::MessageContent::from_text(text);
    conversation.messages.push_back(user);
    auto reply = answer(lm, conversation, args, args.verbose);
    if (!reply.is_ok()) {
      std::fprintf(stderr, "error: %s\n", reply.status().message().c_str());
      conversation.messages.pop_back();
      continue;
    }
    conversation.messages.push_back(std::move(reply).value());
  }
  return 0;
}

void print_peak() {
  std::fprintf(stderr, "peak memory: %llu bytes (VmHWM)\n",
               static_cast<unsigned long long>(peak_resident_bytes()));
}

void run_command(const RunArgs& args) {
  // Ollama users set OLLAMA_NUM_GPU=0 / --cpu to force the CPU; this build only has the CPU
  // backend, so both are accepted and a request for GPU layers is answered plainly.
  if (const char* gpu = std::getenv("HEARTH_NUM_GPU"); gpu && *gpu && std::string(gpu) != "0" &&
                                                     !args.cpu)
    LOG_WARN("HEARTH_NUM_GPU=%s: this build has no GPU backend; running on the CPU", gpu);
  auto path = resolve_model(args.model);
  if (!path.is_ok()) return report_error(path.status());
  engine::EngineOptions opt;
  opt.n_threads = args.threads;
  opt.context_length = args.ctx;
  opt.max_sequences = 1;
  auto lm = engine::load_model(*path, opt);
  if (!lm.is_ok()) return report_error(lm.status());
  auto name = (*lm)->model->file().get_string("general.name");
  if (args.model == "demo" || (name.is_ok() && name->rfind("hearth synthetic", 0) == 0)) {
    std::fprintf(
        stderr,
        "note: this model has random weights (a synthetic test model), so its text is noise.\n"
        "      For a real model: hearth pull qwen3.5:9b && hearth run qwen3.5:9b\n");
  }

  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);

  std::string prompt;
  for (const auto& p : args.prompt) prompt += (prompt.empty() ? "" : " ") + p;
  const bool piped = !isatty(STDIN_FILENO);
  if (piped) {
    std::string doc((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (!doc.empty()) prompt = prompt.empty() ? doc : prompt + "\n\n" + doc;
  }
  if (!prompt.empty() || piped) {
    if (prompt.empty()) return report_error(invalid_argument_error("empty prompt"));
    chat::ChatRequest request;
    request.enable_thinking = args.think == "on";  // one-shot default: answer directly
    chat::Message user;
    user.role = "user";
    user.content = chat::MessageContent::from_text(prompt);
    request.messages.push_back(user);
    auto reply = answer(**lm, request, args, args.verbose);
    if (!reply.is_ok()) return report_error(reply.status());
    if (args.print_peak_memory) print_peak();
    return;
  }
  exit_code() = run_interactive(**lm, args);
  if (args.print_peak_memory) print_peak();
}

}  // namespace

void register_run_commands(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand(
      "run", "chat with a model, or answer one prompt (stdin may add a document)");
  run->add_option("model", args->model, "model name, path to a .gguf, or 'demo'")->required();
  run->add_option("prompt", args->prompt, "prompt (omit for an interactive chat)");
  run->add_flag("--hide-thinking", args->hide_thinking, "do not print the model's reasoning");
  run->add_option("--think", args->think,
                  "on | off (interactive default: on; one-shot default: off)")
      ->check(CLI::IsMember({"on", "off"}));
  run->add_option("--ctx", args->ctx, "context length (default: min(model's, 32768))");
  run->add_option("-t,--threads", args->threads, "CPU threads (default: physical cores)");
  run->add_option("--temperature", args->temperature, "sampling temperature");
  run->add_option("--seed", args->seed, "random seed");
  run->add_option("-n,--max-tokens", args->max_tokens, "maximum tokens to generate");
  run->add_flag("--verbose", args->verbose, "print timings after each answer");
  run->add_flag("--print-peak-memory", args->print_peak_memory,
                "print the process's peak resident memory (VmHWM) at exit, to stderr");
  run->add_flag("--cpu", args->cpu, "run on the CPU only (the only backend in this build)");
  run->callback([args] { run_command(*args); });
}

}  // namespace hearth::cli
