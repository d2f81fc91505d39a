// Subcommands of the tokenizer family (placeholder until implemented).
#include "cli/commands.h"

namespace hearth::cli {

void register_tokenizer_commands(CLI::App& app) { (void)app; }

}  // namespace hearth::cli
