// The hearth command line: each command family registers its subcommands from its own file.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

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
void register_store_commands(
    CLI::App& app);  // cmd_store.cpp: pull, import, create, list/ls, show, rm
void register_serve_commands(CLI::App& app);  // cmd_serve.cpp: serve
void register_info_commands(CLI::App& app);   // cmd_info.cpp: version, ps

// Writes the model file `out` at `type_name` (q4_k_m, q8_0, f16, ...) from a GGUF (re-quantised,
// llama-quantize's type mixing) or a Hugging Face folder (converted), with a progress display,
// then prints "wrote ...". Shared by quantize, convert and create (cmd_tools.cpp).
enum class ModelSource { kGguf, kHuggingFace };
Status write_model_file(ModelSource source, const std::string& in, const std::string& out,
                        const std::string& type_name, int threads);
// Ok when `type_name` is a type write_model_file accepts, else the error naming the valid ones.
Status check_model_type_name(const std::string& type_name);

// "hearth 0.1.0 (<git commit>)" (cmd_info.cpp).
std::string version_line();

}  // namespace hearth::cli
