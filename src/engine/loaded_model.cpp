// load_model: GGUF -> model, tokenizer, chat template, engine.
#include "engine/loaded_model.h"

#include "base/log.h"

namespace hearth::engine {

Result<std::unique_ptr<LoadedModel>> load_model(const std::string& path, const EngineOptions& options) {
  auto lm = std::make_unique<LoadedModel>();
  lm->path = path;
  auto model = model::Model::load(path);
  if (!model.is_ok()) return model.status().with_context("loading '" + path + "'");
  lm->model = std::shared_ptr<const model::Model>(std::move(model).value());
  auto tok = tokenizer::Tokenizer::from_gguf(lm->model->file());
  if (!tok.is_ok()) return tok.status().with_context("loading the tokenizer of '" + path + "'");
  lm->tokenizer = std::make_shared<const tokenizer::Tokenizer>(std::move(tok).value());
  auto choice = chat::choose_chat_template(lm->tokenizer->chat_template());
  lm->chat_template = std::move(choice.chat_template);
  lm->template_matches_model = choice.matches_model;
  auto engine = Engine::create(lm->model, lm->tokenizer, options);
  if (!engine.is_ok()) return engine.status().with_context("starting '" + path + "'");
  lm->engine = std::move(engine).value();
  return lm;
}

}  // namespace hearth::engine
