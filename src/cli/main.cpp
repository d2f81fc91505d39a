// main() of the `hearth` binary: builds the CLI11 app from every command family and runs it.
#include <cstdio>
#include <exception>

#include "cli/commands.h"

namespace hearth::cli {

int& exit_code() {
  static int code = 0;
  return code;
}

void report_error(const Status& status) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  exit_code() = 1;
}

}  // namespace hearth::cli

int main(int argc, char** argv) {
  using namespace hearth::cli;
  CLI::App app{"hearth: run Qwen3.5 models on the hardware you already own", "hearth"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_line());
  register_gguf_commands(app);
  register_kernel_commands(app);
  register_tokenizer_commands(app);
  register_chat_commands(app);
  register_model_commands(app);
  register_tool_commands(app);
  register_run_commands(app);
  register_fit_commands(app);
  register_store_commands(app);
  register_serve_commands(app);
  register_info_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return exit_code();
}
