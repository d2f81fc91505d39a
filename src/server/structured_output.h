// Structured output for the server: reads OpenAI `response_format` and Ollama `format` into a
// compiled JSON schema, keeps one vocabulary trie per loaded tokenizer, and builds the per-choice
// constraint factory the engine runs (JSON only after </think> when the model thinks first).
#pragma once

#include <functional>
#include <memory>

#include "api/json_value.h"
#include "base/status.h"
#include "sampling/json_schema_constraint.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

using JsonSchemaPtr = std::shared_ptr<const sampling::JsonSchemaNode>;

// OpenAI response_format: absent or {type:"text"} -> null (free text); {type:"json_object"} ->
// any JSON object; {type:"json_schema", json_schema:{name, schema, strict}} -> that schema (no
// schema: any JSON object). kInvalidArgument names the problem.
Result<JsonSchemaPtr> parse_response_format(const api::Json* response_format);

// Ollama format: absent or "" -> null; "json" -> any JSON object; an object -> that schema.
Result<JsonSchemaPtr> parse_ollama_format(const api::Json* format);

// The model's token bytes and trie, built on first use and cached per tokenizer (shared by every
// request on that model; dropped when the tokenizer is freed).
std::shared_ptr<const sampling::TokenVocabulary> token_vocabulary(
    const std::shared_ptr<const tokenizer::Tokenizer>& tokenizer);

// A fresh JsonSchemaConstraint per call. `thinking`: generation starts inside the reasoning, so
// the constraint starts after </think> (and the answer cannot end before it).
std::function<std::unique_ptr<sampling::TokenConstraint>()> json_constraint_factory(
    JsonSchemaPtr schema, const std::shared_ptr<const tokenizer::Tokenizer>& tokenizer,
    bool thinking);

}  // namespace hearth::server
