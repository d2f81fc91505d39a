// Subcommands of the chat family (placeholder until implemented).
#include "cli/commands.h"

namespace hearth::cli {

void register_chat_commands(CLI::App& app) { (void)app; }

}  // namespace hearth::cli
