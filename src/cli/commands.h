// The hearth command line: each command family registers its subcommands from its own file.
#pragma once

#include <CLI/CLI.hpp>

#include "base/status.h"

namespace hearth::cli {

// Exit code of the subcommand that ran; callbacks set it.
int& exit_code();
// Prints "error: <message>" to stderr and sets the exit code to 1.
void report_error(const Status& status);

void register_gguf_commands(CLI::App& app);       // cmd_gguf.cpp: gguf info, gguf dequant
void register_kernel_commands(CLI::App& app);     // cmd_kernels.cpp: bench-kernels, cpu-info
void register_tokenizer_commands(CLI::App& app);  // cmd_tokenizer.cpp: tokenize, detokenize
void register_chat_commands(CLI::App& app);       // cmd_chat.cpp: render-chat
void register_model_commands(CLI::App& app);      // cmd_model.cpp: make-test-model, logits
void register_tool_commands(CLI::App& app);       // cmd_tools.cpp: quantize, convert, bench
void register_run_commands(CLI::App& app);        // cmd_run.cpp: run
void register_fit_commands(CLI::App& app);        // cmd_fit.cpp: fit
void register_store_commands(CLI::App& app);      // cmd_store.cpp: pull, import, list/ls, show, rm
void register_serve_commands(CLI::App& app);      // cmd_serve.cpp: serve

}  // namespace hearth::cli
