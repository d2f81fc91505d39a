// Subcommands of the kernel family (placeholder until implemented).
#include "cli/commands.h"

namespace hearth::cli {

void register_kernel_commands(CLI::App& app) { (void)app; }

}  // namespace hearth::cli
