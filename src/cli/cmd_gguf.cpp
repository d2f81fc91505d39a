// Subcommands of the gguf family (placeholder until implemented).
#include "cli/commands.h"

namespace hearth::cli {

void register_gguf_commands(CLI::App& app) { (void)app; }

}  // namespace hearth::cli
