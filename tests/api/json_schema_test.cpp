// Tests of JSON Schema -> JsonSchemaNode conversion: the supported keywords produce automata
// that accept/reject the right texts, and unsupported or malformed schemas give clear errors.
#include "api/json_schema.h"

#include <gtest/gtest.h>

namespace hearth::api {
namespace {

using sampling::JsonAutomaton;
using Kind = sampling::JsonSchemaNode::Kind;

std::shared_ptr<const sampling::JsonSchemaNode> convert(const char* text) {
  auto r = json_schema_from_json(Json::parse(text));
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().message();
  return r.is_ok() ? r.value() : nullptr;
}

std::string error_of(const char* text) {
  auto r = json_schema_from_json(Json::parse(text));
  EXPECT_FALSE(r.is_ok()) << text;
  return r.is_ok() ? "" : r.status().message();
}

bool accepts(const std::shared_ptr<const sampling::JsonSchemaNode>& s, const std::string& text) {
  JsonAutomaton a(s.get());
  return a.feed(text) && a.can_finish();
}

TEST(JsonSchemaFromJson, ObjectInSchemaOrder) {
  auto s = convert(R"({"type":"object","title":"Person","properties":{
      "name":{"type":"string","maxLength":20,"description":"who"},
      "age":{"type":"integer"},
      "tags":{"type":"array","items":{"enum":["x","y"]},"maxItems":2},
      "ok":{"type":"boolean"}},
    "required":["name","age","ok"],"additionalProperties":false,"strict":true})");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->kind, Kind::kObject);
  ASSERT_EQ(s->properties.size(), 4u);
  EXPECT_EQ(s->properties[0].name, "name");
  EXPECT_EQ(s->properties[3].name, "ok");
  EXPECT_TRUE(s->properties[0].required);
  EXPECT_FALSE(s->properties[2].required);
  EXPECT_TRUE(accepts(s, R"({"name":"a","age":1,"tags":["x"],"ok":true})"));
  EXPECT_TRUE(accepts(s, R"({"name":"a","age":1,"ok":false})"));
  EXPECT_FALSE(accepts(s, R"({"name":"a","age":1,"tags":["z"],"ok":true})"));
  EXPECT_FALSE(accepts(s, R"({"name":"a","ok":true})"));
}

TEST(JsonSchemaFromJson, TypesNullableConstAnyOf) {
  auto multi = convert(R"({"type":["string","null"],"maxLength":2})");
  EXPECT_TRUE(accepts(multi, "null"));
  EXPECT_TRUE(accepts(multi, "\"ab\""));
  EXPECT_FALSE(accepts(multi, "\"abc\""));
  auto nullable = convert(R"({"type":"integer","nullable":true})");
  EXPECT_TRUE(accepts(nullable, "null"));
  EXPECT_TRUE(accepts(nullable, "7"));
  auto c = convert(R"({"const":{"a":[1,"b"]}})");
  EXPECT_TRUE(accepts(c, R"({"a":[1,"b"]})"));
  EXPECT_FALSE(accepts(c, R"({"a":[1]})"));
  auto one_of =
      convert(R"({"oneOf":[{"type":"number"},{"type":"array","items":{"type":"boolean"}}]})");
  EXPECT_TRUE(accepts(one_of, "1.5"));
  EXPECT_TRUE(accepts(one_of, "[true,false]"));
  EXPECT_FALSE(accepts(one_of, "\"s\""));
  auto any = convert(R"({"description":"anything"})");
  EXPECT_TRUE(accepts(any, "[1,{\"a\":null}]"));
  auto implicit = convert(R"({"properties":{"a":{"type":"null"}},"required":["a"]})");
  EXPECT_TRUE(accepts(implicit, R"({"a":null})"));
  auto map = convert(R"({"type":"object","additionalProperties":{"type":"integer"}})");
  EXPECT_TRUE(accepts(map, R"({"k":1,"j":2})"));
  EXPECT_FALSE(accepts(map, R"({"k":"v"})"));
  auto all_of = convert(R"({"allOf":[{"type":"boolean"}],"description":"wrapped"})");
  EXPECT_TRUE(accepts(all_of, "true"));
}

TEST(JsonSchemaFromJson, Refs) {
  auto s = convert(R"({"$defs":{"Pt":{"type":"object","properties":{"x":{"type":"number"}},
      "required":["x"]}},"definitions":{"a/b":{"type":"boolean"}},
      "type":"object","properties":{"p":{"$ref":"#/$defs/Pt"},"q":{"$ref":"#/definitions/a~1b"}},
      "required":["p","q"]})");
  ASSERT_TRUE(s);
  EXPECT_TRUE(accepts(s, R"({"p":{"x":1.5},"q":true})"));
  EXPECT_FALSE(accepts(s, R"({"p":{},"q":true})"));
  EXPECT_NE(error_of(R"({"$defs":{"N":{"type":"object","properties":{"next":{"$ref":"#/$defs/N"}}}},
      "$ref":"#/$defs/N"})")
                .find("recursive $ref"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"$ref":"#/$defs/Missing"})").find("does not resolve"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref":"http://example.com/s.json"})").find("not supported"),
            std::string::npos);
}

TEST(JsonSchemaFromJson, Errors) {
  EXPECT_NE(error_of(R"({"type":"string","pattern":"^a$"})").find("'pattern'"), std::string::npos);
  EXPECT_NE(error_of(R"({"type":"integer","minimum":3})").find("'minimum'"), std::string::npos);
  EXPECT_NE(error_of(R"({"type":"object","properties":{"a":{"not":{}}}})").find("properties.a"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"date"})").find("unknown type"), std::string::npos);
  EXPECT_NE(error_of(R"({"type":"object","properties":{},"required":["a"]})").find("'a'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"string","minLength":5,"maxLength":2})").find("minLength"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"array","minItems":-1})").find("non-negative"), std::string::npos);
  EXPECT_NE(error_of(R"({"enum":[]})").find("enum"), std::string::npos);
  EXPECT_NE(error_of(R"({"anyOf":[]})").find("anyOf"), std::string::npos);
  EXPECT_NE(error_of(R"({"type":"string","anyOf":[{"maxLength":2}]})").find("anyOf"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"array","items":[{"type":"string"}]})").find("tuple"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"array","prefixItems":[{"type":"string"}]})").find("prefixItems"),
            std::string::npos);
  EXPECT_NE(error_of("false").find("nothing"), std::string::npos);
  EXPECT_NE(error_of("3").find("must be an object"), std::string::npos);
  EXPECT_NE(error_of(R"({"type":"object","properties":{"a":1}})").find("properties.a"),
            std::string::npos);
}

TEST(JsonSchemaFromJson, LimitsNeverCrash) {
  // Deep nesting.
  std::string deep = R"({"type":"integer"})";
  for (int i = 0; i < 200; ++i) deep = R"({"type":"array","items":)" + deep + "}";
  auto r = json_schema_from_json(Json::parse(deep));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("deeper"), std::string::npos);
  // Exponential $ref expansion (each level uses the previous one 8 times).
  Json defs = Json::object();
  defs["d0"] = Json{{"type", "integer"}};
  for (int i = 1; i < 8; ++i) {
    Json props = Json::object();
    for (int k = 0; k < 8; ++k)
      props[str_format("p%d", k)] = {{"$ref", str_format("#/$defs/d%d", i - 1)}};
    defs[str_format("d%d", i)] = Json{{"type", "object"}, {"properties", props}};
  }
  Json bomb = {{"$defs", defs}, {"$ref", "#/$defs/d7"}};
  auto b = json_schema_from_json(bomb);
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("subschemas"), std::string::npos);
  // Too many properties.
  Json wide = {{"type", "object"}, {"properties", Json::object()}};
  for (int i = 0; i < 100; ++i) wide["properties"][str_format("p%d", i)] = {{"type", "null"}};
  EXPECT_FALSE(json_schema_from_json(wide).is_ok());
}

}  // namespace
}  // namespace hearth::api
