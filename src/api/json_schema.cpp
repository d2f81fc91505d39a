// JSON Schema -> sampling::JsonSchemaNode conversion (see json_schema.h for the supported subset).
#include "api/json_schema.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace hearth::api {
namespace {

using sampling::JsonSchemaNode;
using Kind = JsonSchemaNode::Kind;
using NodePtr = std::shared_ptr<JsonSchemaNode>;

// Keywords that constrain validity in ways the generator does not implement.
const char* const kUnsupported[] = {
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
    "prefixItems",
    "$dynamicRef",
    "$recursiveRef",
    "contentSchema",
};

// Keywords that define what the value is (as opposed to annotations). Used to refuse anyOf/$ref
// combined with them, whose meaning would be an intersection.
const char* const kValueKeywords[] = {"type",      "properties", "required", "additionalProperties",
                                      "items",     "minItems",   "maxItems", "minLength",
                                      "maxLength", "enum",       "const"};

class Converter {
 public:
  explicit Converter(const Json& root) : root_(root) {}

  Result<NodePtr> convert(const Json& s, const std::string& path, int depth) {
    if (depth > sampling::kMaxSchemaDepth)
      return error(path, str_format("the schema is nested deeper than %d levels",
                                    sampling::kMaxSchemaDepth));
    if (++nodes_ > sampling::kMaxSchemaNodes)
      return error(path, str_format("the schema has more than %zu subschemas (after $ref "
                                    "expansion)",
                                    sampling::kMaxSchemaNodes));
    if (s.is_boolean()) {
      if (!s.get<bool>()) return error(path, "the schema false accepts nothing");
      return std::make_shared<JsonSchemaNode>();
    }
    if (!s.is_object()) return error(path, "a schema must be an object or a boolean");
    for (const char* k : kUnsupported)
      if (s.contains(k)) return error(path, std::string("'") + k + "' is not supported");

    if (const Json* ref = find(s, "$ref")) return convert_ref(*ref, path, depth);

    const bool has_value_keywords = [&] {
      for (const char* k : kValueKeywords)
        if (s.contains(k)) return true;
      return false;
    }();
    for (const char* combiner : {"anyOf", "oneOf", "allOf"}) {
      const Json* list = find(s, combiner);
      if (!list) continue;
      if (has_value_keywords)
        return error(path, std::string(combiner) +
                               " together with type/properties/... is not supported (move "
                               "them into each alternative)");
      if (!list->is_array() || list->empty())
        return error(path, std::string(combiner) + " must be a non-empty array");
      if (std::string(combiner) == "allOf") {
        if (list->size() != 1)
          return error(path, "allOf with more than one schema is not supported");
        return convert((*list)[0], path + ".allOf[0]", depth + 1);
      }
      auto n = std::make_shared<JsonSchemaNode>();
      n->kind = Kind::kAnyOf;
      for (size_t i = 0; i < list->size(); ++i) {
        HEARTH_ASSIGN_OR_RETURN(
            auto child,
            convert((*list)[i], path + "." + combiner + str_format("[%zu]", i), depth + 1));
        n->any_of.push_back(std::move(child));
      }
      return n;
    }

    if (const Json* c = find(s, "const")) return enum_of({*c});
    if (const Json* e = find(s, "enum")) {
      if (!e->is_array() || e->empty()) return error(path, "enum must be a non-empty array");
      if (e->size() > sampling::kMaxEnumValues)
        return error(path, str_format("enum has more than %zu values", sampling::kMaxEnumValues));
      std::vector<Json> values(e->begin(), e->end());
      return with_nullable(s, enum_of(values));
    }

    std::vector<std::string> types;
    if (const Json* t = find(s, "type")) {
      if (t->is_string()) {
        types.push_back(t->get<std::string>());
      } else if (t->is_array() && !t->empty()) {
        for (const auto& x : *t) {
          if (!x.is_string()) return error(path, "type must be a string or a list of strings");
          types.push_back(x.get<std::string>());
        }
      } else {
        return error(path, "type must be a string or a list of strings");
      }
    } else if (s.contains("properties") || s.contains("additionalProperties") ||
               s.contains("required")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
      types.push_back("array");
    } else if (s.contains("minLength") || s.contains("maxLength")) {
      types.push_back("string");
    } else {
      return with_nullable(s, std::make_shared<JsonSchemaNode>());  // any value
    }

    std::vector<NodePtr> alternatives;
    for (const auto& type : types) {
      HEARTH_ASSIGN_OR_RETURN(auto n, typed(s, type, path, depth));
      alternatives.push_back(std::move(n));
    }
    NodePtr result = alternatives[0];
    if (alternatives.size() > 1) {
      result = std::make_shared<JsonSchemaNode>();
      result->kind = Kind::kAnyOf;
      result->any_of = std::move(alternatives);
    }
    return with_nullable(s, result);
  }

 private:
  static const Json* find(const Json& s, const char* key) {
    auto it = s.find(key);
    return it == s.end() ? nullptr : &*it;
  }

  static Status error(const std::string& path, const std::string& what) {
    return invalid_argument_error("invalid or unsupported JSON schema at " + path + ": " + what);
  }

  static Result<NodePtr> enum_of(const std::vector<Json>& values) {
    auto n = std::make_shared<JsonSchemaNode>();
    n->kind = Kind::kEnum;
    for (const auto& v : values) n->enum_values.push_back(v.dump());
    return n;
  }

  // "nullable": true (OpenAPI style) adds null as an alternative.
  static Result<NodePtr> with_nullable(const Json& s, Result<NodePtr> node) {
    if (!node.is_ok()) return node;
    const Json* nullable = find(s, "nullable");
    if (!nullable || !nullable->is_boolean() || !nullable->get<bool>()) return node;
    auto any = std::make_shared<JsonSchemaNode>();
    any->kind = Kind::kAnyOf;
    auto null = std::make_shared<JsonSchemaNode>();
    null->kind = Kind::kNull;
    any->any_of = {std::move(node).value(), std::move(null)};
    return any;
  }

  static Result<uint32_t> count(const Json& s, const char* key, const std::string& path) {
    const Json* v = find(s, key);
    if (!v) return uint32_t{0};
    if (!v->is_number_integer() || v->get<int64_t>() < 0)
      return error(path, std::string(key) + " must be a non-negative integer");
    int64_t x = v->get<int64_t>();
    return static_cast<uint32_t>(std::min<int64_t>(x, UINT32_MAX - 1));
  }

  Result<NodePtr> typed(const Json& s, const std::string& type, const std::string& path,
                        int depth) {
    auto n = std::make_shared<JsonSchemaNode>();
    if (type == "string") {
      n->kind = Kind::kString;
      HEARTH_ASSIGN_OR_RETURN(n->min_length, count(s, "minLength", path));
      n->max_length = UINT32_MAX;
      if (s.contains("maxLength")) {
        HEARTH_ASSIGN_OR_RETURN(n->max_length, count(s, "maxLength", path));
      }
      if (n->min_length > n->max_length) return error(path, "minLength is greater than maxLength");
    } else if (type == "number") {
      n->kind = Kind::kNumber;
    } else if (type == "integer") {
      n->kind = Kind::kInteger;
    } else if (type == "boolean") {
      n->kind = Kind::kBoolean;
    } else if (type == "null") {
      n->kind = Kind::kNull;
    } else if (type == "array") {
      n->kind = Kind::kArray;
      HEARTH_ASSIGN_OR_RETURN(n->min_items, count(s, "minItems", path));
      n->max_items = UINT32_MAX;
      if (s.contains("maxItems")) {
        HEARTH_ASSIGN_OR_RETURN(n->max_items, count(s, "maxItems", path));
      }
      if (n->min_items > n->max_items) return error(path, "minItems is greater than maxItems");
      if (const Json* items = find(s, "items")) {
        if (items->is_array())
          return error(path, "items as an array (tuple form) is not supported");
        HEARTH_ASSIGN_OR_RETURN(n->items, convert(*items, path + ".items", depth + 1));
      }
    } else if (type == "object") {
      n->kind = Kind::kObject;
      std::set<std::string> required;
      if (const Json* req = find(s, "required")) {
        if (!req->is_array()) return error(path, "required must be an array of strings");
        for (const auto& r : *req) {
          if (!r.is_string()) return error(path, "required must be an array of strings");
          required.insert(r.get<std::string>());
        }
      }
      if (const Json* props = find(s, "properties")) {
        if (!props->is_object()) return error(path, "properties must be an object");
        if (props->size() > sampling::kMaxObjectProperties)
          return error(path,
                       str_format("more than %zu properties", sampling::kMaxObjectProperties));
        for (const auto& [name, sub] : props->items()) {
          JsonSchemaNode::Property p;
          p.name = name;
          p.required = required.count(name) > 0;
          HEARTH_ASSIGN_OR_RETURN(p.schema, convert(sub, path + ".properties." + name, depth + 1));
          n->properties.push_back(std::move(p));
        }
      }
      for (const auto& r : required) {
        bool known = false;
        for (const auto& p : n->properties) known = known || p.name == r;
        if (!known)
          return error(path, "required property '" + r + "' is not defined in properties");
      }
      if (const Json* extra = find(s, "additionalProperties")) {
        if (extra->is_boolean()) {
          n->additional_properties_allowed = extra->get<bool>();
        } else {
          HEARTH_ASSIGN_OR_RETURN(n->additional_properties,
                                  convert(*extra, path + ".additionalProperties", depth + 1));
        }
      }
    } else {
      return error(path, "unknown type '" + type + "'");
    }
    return n;
  }

  Result<NodePtr> convert_ref(const Json& ref, const std::string& path, int depth) {
    if (!ref.is_string()) return error(path, "$ref must be a string");
    const std::string r = ref.get<std::string>();
    std::string section;
    for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
      if (r.rfind(prefix, 0) == 0) section = std::string(prefix).substr(2, strlen(prefix) - 3);
    }
    if (section.empty())
      return error(path, "$ref '" + r +
                             "' is not supported (only #/$defs/... and "
                             "#/definitions/...)");
    // JSON pointer unescaping of the name (~1 = '/', ~0 = '~').
    std::string raw = r.substr(section.size() + 3), name;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        name += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else if (raw[i] == '/') {
        return error(path, "$ref '" + r + "' points below a definition (not supported)");
      } else {
        name += raw[i];
      }
    }
    const Json* defs = root_.is_object() ? find(root_, section.c_str()) : nullptr;
    const Json* target = (defs && defs->is_object()) ? find(*defs, name.c_str()) : nullptr;
    if (!target) return error(path, "$ref '" + r + "' does not resolve");
    for (const auto& active : ref_stack_)
      if (active == r) return error(path, "recursive $ref '" + r + "' is not supported");
    ref_stack_.push_back(r);
    auto out = convert(*target, path + "(" + r + ")", depth + 1);
    ref_stack_.pop_back();
    return out;
  }

  const Json& root_;
  size_t nodes_ = 0;
  std::vector<std::string> ref_stack_;  // [n_active] $refs being expanded
};

}  // namespace

Result<std::shared_ptr<const sampling::JsonSchemaNode>> json_schema_from_json(const Json& schema) {
  Converter converter(schema);
  HEARTH_ASSIGN_OR_RETURN(auto node, converter.convert(schema, "schema", 0));
  auto compiled = sampling::compile_json_schema(*node);
  if (!compiled.is_ok())
    return invalid_argument_error("invalid or unsupported JSON schema: " +
                                  compiled.status().message());
  return compiled;
}

}  // namespace hearth::api
