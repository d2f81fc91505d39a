// LoadedModel: everything needed to serve one GGUF — the model (shared weights), its tokenizer,
// its chat template and a running Engine — loaded in one call by the CLI and the server.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "chat/chat_template.h"
#include "engine/engine.h"

namespace hearth::engine {

struct LoadedModel {
  std::string path;
  std::shared_ptr<const model::Model> model;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<chat::ChatTemplate> chat_template;
  bool template_matches_model = true;  // false: the GGUF carries a different template (warned)
  std::unique_ptr<Engine> engine;
};

// Loads model + tokenizer + template and starts an engine. Errors name the file.
Result<std::unique_ptr<LoadedModel>> load_model(const std::string& path, const EngineOptions& options);

}  // namespace hearth::engine
