// Subcommands of the model family (placeholder until implemented).
#include "cli/commands.h"

namespace hearth::cli {

void register_model_commands(CLI::App& app) { (void)app; }

}  // namespace hearth::cli
