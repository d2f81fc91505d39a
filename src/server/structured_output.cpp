// Structured output glue between the HTTP layer and the JSON-schema token constraint.
#include "server/structured_output.h"

#include <mutex>
#include <vector>

#include "api/json_schema.h"
#include "base/log.h"
#include "base/timer.h"

namespace hearth::server {

Result<JsonSchemaPtr> parse_response_format(const api::Json* rf) {
  if (!rf || rf->is_null()) return JsonSchemaPtr{};
  if (!rf->is_object() || !rf->contains("type") || !(*rf)["type"].is_string())
    return invalid_argument_error("response_format must be an object with a string type");
  const std::string type = (*rf)["type"].get<std::string>();
  if (type == "text") return JsonSchemaPtr{};
  if (type == "json_object") return sampling::json_object_schema();
  if (type != "json_schema")
    return invalid_argument_error("unknown response_format type '" + type + "'");
  auto it = rf->find("json_schema");
  if (it == rf->end() || !it->is_object())
    return invalid_argument_error(
        "response_format json_schema needs a json_schema object ({name, schema, strict})");
  auto schema = it->find("schema");
  if (schema == it->end() || schema->is_null()) return sampling::json_object_schema();
  auto node = api::json_schema_from_json(*schema);
  if (!node.is_ok())
    return invalid_argument_error("response_format.json_schema.schema: " + node.status().message());
  return node;
}

Result<JsonSchemaPtr> parse_ollama_format(const api::Json* format) {
  if (!format || format->is_null()) return JsonSchemaPtr{};
  if (format->is_string()) {
    const std::string f = format->get<std::string>();
    if (f.empty()) return JsonSchemaPtr{};
    if (f == "json") return sampling::json_object_schema();
    return invalid_argument_error("format must be \"json\" or a JSON schema object, not \"" + f +
                                  "\"");
  }
  if (!format->is_object())
    return invalid_argument_error("format must be \"json\" or a JSON schema object");
  auto node = api::json_schema_from_json(*format);
  if (!node.is_ok()) return invalid_argument_error("format: " + node.status().message());
  return node;
}

std::shared_ptr<const sampling::TokenVocabulary> token_vocabulary(
    const std::shared_ptr<const tokenizer::Tokenizer>& tokenizer) {
  struct CacheEntry {
    std::weak_ptr<const tokenizer::Tokenizer> owner;
    std::shared_ptr<const sampling::TokenVocabulary> vocab;
  };
  static std::mutex mutex;
  static std::vector<CacheEntry> cache;  // [n_models seen, live ones only]
  std::lock_guard<std::mutex> lock(mutex);
  std::erase_if(cache, [](const CacheEntry& e) { return e.owner.expired(); });
  for (const auto& e : cache)
    if (e.owner.lock() == tokenizer) return e.vocab;
  Stopwatch timer;
  const int32_t n = tokenizer->vocab_size();
  std::vector<std::string> bytes(static_cast<size_t>(n));
  std::vector<bool> special(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id) {
    const auto kind = tokenizer->token_kind(id);
    special[id] = kind != tokenizer::TokenKind::kNormal && kind != tokenizer::TokenKind::kByte;
    if (!special[id]) bytes[id] = tokenizer->token_to_piece(id);
  }
  auto vocab = sampling::TokenVocabulary::build(std::move(bytes), std::move(special));
  LOG_INFO("structured output: vocabulary trie of %d tokens (%zu nodes) built in %.1f ms", n,
           vocab->trie().size(), timer.elapsed_s() * 1e3);
  cache.push_back({tokenizer, vocab});
  return vocab;
}

std::function<std::unique_ptr<sampling::TokenConstraint>()> json_constraint_factory(
    JsonSchemaPtr schema, const std::shared_ptr<const tokenizer::Tokenizer>& tokenizer,
    bool thinking) {
  auto vocab = token_vocabulary(tokenizer);
  std::vector<int32_t> eog = tokenizer->eog_ids();
  const int32_t think_end = thinking ? tokenizer->special_ids().think_end : -1;
  return [schema = std::move(schema), vocab, eog, think_end] {
    return std::make_unique<sampling::JsonSchemaConstraint>(schema, vocab, eog, think_end);
  };
}

}  // namespace hearth::server
