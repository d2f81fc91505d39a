// JSON Schema (as sent in OpenAI response_format.json_schema.schema or Ollama `format`) ->
// the native, compiled sampling::JsonSchemaNode that constrains generation.
//
// Supported: type (a name or a list of names), nullable, properties, required,
// additionalProperties (bool or schema), items, minItems, maxItems, minLength, maxLength, enum,
// const, anyOf, oneOf, allOf with one member, $ref to "#/$defs/..." or "#/definitions/..."
// (non-recursive). Annotations (title, description, default, examples, $schema, $id, format,
// strict, ...) are ignored. Keywords that change validity but are not supported (pattern,
// minimum, maximum, multipleOf, not, if/then/else, patternProperties, prefixItems, uniqueItems,
// ...) are rejected with kInvalidArgument naming the keyword and where it is.
#pragma once

#include <memory>

#include "api/json_value.h"
#include "base/status.h"
#include "sampling/json_schema_constraint.h"

namespace hearth::api {

Result<std::shared_ptr<const sampling::JsonSchemaNode>> json_schema_from_json(const Json& schema);

}  // namespace hearth::api
