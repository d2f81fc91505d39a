// Subcommands of the chat family: `hearth render-chat REQUEST.json` prints the prompt the Qwen3.5
// chat template renders for an OpenAI-style chat request body (`-` reads stdin). The output is
// exactly the prompt text (no trailing newline added): external checks compare it byte for byte.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include "api/chat_request.h"
#include "chat/chat_template.h"
#include "cli/commands.h"

namespace hearth::cli {

namespace {

Result<std::string> read_request_text(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found_error("cannot open request file '" + path + "'");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return io_error("error reading request file '" + path + "'");
  return text;
}

Status render_chat(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, read_request_text(path));
  HEARTH_ASSIGN_OR_RETURN(chat::ChatRequest request, api::parse_chat_request(text));
  std::unique_ptr<chat::ChatTemplate> chat_template = chat::make_qwen35_template();
  HEARTH_ASSIGN_OR_RETURN(std::string prompt, chat_template->render(request));
  if (std::fwrite(prompt.data(), 1, prompt.size(), stdout) != prompt.size() ||
      std::fflush(stdout) != 0) {
    return io_error("cannot write the rendered prompt to stdout");
  }
  return Status::ok();
}

}  // namespace

void register_chat_commands(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "render-chat",
      "Print the Qwen3.5 prompt rendered for an OpenAI chat request body (messages, tools, "
      "chat_template_kwargs.enable_thinking, add_generation_prompt)");
  auto path = std::make_shared<std::string>();
  cmd->add_option("request", *path, "request JSON file, or - for stdin")->required();
  cmd->callback([path]() {
    Status status = render_chat(*path);
    if (!status.is_ok()) report_error(status);
  });
}

}  // namespace hearth::cli
