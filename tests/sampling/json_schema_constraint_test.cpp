// Tests of the JSON-schema automaton and token constraint: accept/reject tables per schema,
// mask_logits == allows() on every token, end of generation only at the end, and random walks
// over a small synthetic vocabulary that must always end in JSON that parses and validates.
#include "sampling/json_schema_constraint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

namespace hearth::sampling {
namespace {

using Kind = JsonSchemaNode::Kind;
using Node = std::shared_ptr<JsonSchemaNode>;

Node make(Kind kind) {
  auto n = std::make_shared<JsonSchemaNode>();
  n->kind = kind;
  return n;
}
Node string_node(uint32_t min_len = 0, uint32_t max_len = UINT32_MAX) {
  auto n = make(Kind::kString);
  n->min_length = min_len;
  n->max_length = max_len;
  return n;
}
Node enum_node(std::vector<std::string> values) {
  auto n = make(Kind::kEnum);
  n->enum_values = std::move(values);
  return n;
}
Node array_node(Node items, uint32_t min_items = 0, uint32_t max_items = UINT32_MAX) {
  auto n = make(Kind::kArray);
  n->items = std::move(items);
  n->min_items = min_items;
  n->max_items = max_items;
  return n;
}
Node any_of(std::vector<Node> alts) {
  auto n = make(Kind::kAnyOf);
  n->any_of = std::move(alts);
  return n;
}
Node object_node(std::vector<JsonSchemaNode::Property> props) {
  auto n = make(Kind::kObject);
  n->properties = std::move(props);
  return n;
}

std::shared_ptr<const JsonSchemaNode> compiled(const Node& n) {
  auto r = compile_json_schema(*n);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.value();
}

// The issue's example: {name: string <= 20, age: integer, tags: [enum], ok: boolean}, with tags
// optional.
Node person_schema() {
  return object_node({{"name", string_node(0, 20), true},
                      {"age", make(Kind::kInteger), true},
                      {"tags", array_node(enum_node({"\"a\"", "\"bb\"", "\"c\""}), 0, 3), false},
                      {"ok", make(Kind::kBoolean), true}});
}

bool accepts(const JsonSchemaNode* schema, const std::string& text) {
  JsonAutomaton a(schema);
  return a.feed(text) && a.can_finish();
}
struct Case {
  std::string text;
  bool ok;
};

void check_table(const std::shared_ptr<const JsonSchemaNode>& s, const std::vector<Case>& cases) {
  for (const auto& c : cases) EXPECT_EQ(accepts(s.get(), c.text), c.ok) << c.text;
}

TEST(JsonAutomaton, PersonObject) {
  auto s = compiled(person_schema());
  check_table(s, {
                     {R"({"name":"Al","age":3,"ok":true})", true},
                     {R"({"name":"Al","age":-30,"tags":["a","c"],"ok":false})", true},
                     {R"({ "name": "Al", "age": 0, "tags": [], "ok": true })", true},
                     {"{\n \"name\":\"\",\"age\":1,\"ok\":true}", true},
                     {R"({"name":"Al","age":3})", false},              // ok missing
                     {R"({"age":3,"name":"Al","ok":true})", false},    // out of order
                     {R"({"name":"Al","age":3.5,"ok":true})", false},  // not integer
                     {R"({"name":"Al","age":03,"ok":true})", false},   // leading zero
                     {R"({"name":"Al","age":3,"tags":["d"],"ok":true})", false},
                     {R"({"name":"Al","age":3,"tags":["a","a","a","a"],"ok":true})", false},
                     {R"({"name":"Al","age":3,"ok":true,"x":1})", false},  // invented key
                     {R"({"name":"012345678901234567890","age":3,"ok":true})", false},
                     {R"({"name":"01234567890123456789","age":3,"ok":true})", true},
                     {R"({"name":"Al","age":3,"ok":true} )", false},  // trailing ws
                     {R"({"name":"Al","age":3,"ok":true,})", false},
                     {"{   \"name\":\"Al\",\"age\":3,\"ok\":true}", false},  // 3 spaces
                     {"{\t\"name\":\"Al\",\"age\":3,\"ok\":true}", false},   // tab
                     {R"({"name":"Al","age":12345678901234567,"ok":true})", false},
                     {R"({"name":"Al","age":1234567890123456,"ok":true})", true},
                 });
}

TEST(JsonAutomaton, Strings) {
  auto s = compiled(string_node(1, 3));
  check_table(s, {
                     {R"("a")", true},
                     {R"("")", false},
                     {R"("abc")", true},
                     {R"("abcd")", false},
                     {"\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"", true},  // 3 code points
                     {"\"\xC3\"", false},                                 // truncated
                     {"\"\xC0\x80\"", false},                             // overlong
                     {"\"\xED\xA0\x80\"", false},                         // surrogate
                     {"\"\xF4\x90\x80\x80\"", false},                     // > U+10FFFF
                     {"\"\xFF\"", false},
                     {"\"a\nb\"", false},  // raw control char
                     {R"("\n\t\"")", true},
                     {R"("\u00e9")", true},
                     {R"("\ud83d")", false},  // lone surrogate
                     {R"("\DAAA")", false},
                     {R"("\x")", false},
                     {R"("a\/")", true},
                 });
}

TEST(JsonAutomaton, Numbers) {
  auto num = compiled(make(Kind::kNumber));
  check_table(num, {{"0", true},
                    {"-0", true},
                    {"-", false},
                    {"1.5", true},
                    {"1.", false},
                    {".5", false},
                    {"1e5", true},
                    {"1E+05", true},
                    {"1e-100", false},  // 3 exponent digits
                    {"2.5e-3", true},
                    {"00", false},
                    {"1.25 ", false}});
  auto integer = compiled(make(Kind::kInteger));
  check_table(integer, {{"42", true}, {"-7", true}, {"4.0", false}, {"1e3", false}});
}

TEST(JsonAutomaton, EnumsAnyOfAndLiterals) {
  auto e = compiled(enum_node({"1", "12", "\"x\"", "null", "{\"k\":[1,2]}"}));
  check_table(e, {{"1", true},
                  {"12", true},
                  {"123", false},
                  {"\"x\"", true},
                  {"\"y\"", false},
                  {"null", true},
                  {"nul", false},
                  {"{\"k\":[1,2]}", true},
                  {"{\"k\":[1]}", false}});
  auto nullable = compiled(any_of({string_node(0, 2), make(Kind::kNull)}));
  check_table(nullable, {{"null", true}, {"\"ab\"", true}, {"\"abc\"", false}, {"1", false}});
  auto arr = compiled(array_node(enum_node({"1", "12"}), 1, 2));
  check_table(arr, {{"[1]", true},
                    {"[12,1]", true},
                    {"[ 1 , 12 ]", true},
                    {"[]", false},
                    {"[1,1,1]", false},
                    {"[1,]", false}});
  auto merged = compiled(any_of(
      {enum_node({"\"a\""}), enum_node({"\"b\""}), make(Kind::kInteger), make(Kind::kNumber)}));
  check_table(merged, {{"\"a\"", true}, {"\"b\"", true}, {"1.5", true}, {"\"c\"", false}});
  auto b = compiled(make(Kind::kBoolean));
  check_table(b, {{"true", true}, {"false", true}, {"null", false}, {"tru", false}});
}

TEST(JsonAutomaton, AnyObject) {
  auto s = json_object_schema();
  check_table(s, {{"{}", true},
                  {R"({"a":1,"b":[true,null,{"c":"d"}],"e":-1.5e3})", true},
                  {R"({"a":})", false},
                  {"[]", false},
                  {"\"x\"", false},
                  {R"({"a" : 1 })", true},
                  {R"({"a":1}})", false}});
  // Depth is bounded: nesting stops before the frame stack runs out, and a prefix that hit the
  // bound can still be closed.
  JsonAutomaton a(s.get());
  ASSERT_TRUE(a.feed(std::string("{\"a\":")));
  int opened = 1;
  for (;;) {
    JsonAutomaton probe(nullptr);  // a refused byte leaves the automaton unusable: try a copy
    probe.copy_from(a);
    if (!probe.feed(std::string("["))) break;
    a.copy_from(probe);
    ++opened;
  }
  EXPECT_LT(opened, JsonAutomaton::kMaxFrames);
  EXPECT_TRUE(a.feed(std::string(static_cast<size_t>(opened - 1), ']') + "}"));
  EXPECT_TRUE(a.can_finish());
}

TEST(JsonAutomaton, ObjectsOptionalAndClosed) {
  auto s = compiled(object_node({{"a", make(Kind::kInteger), false},
                                 {"b", make(Kind::kInteger), true},
                                 {"c", make(Kind::kInteger), false},
                                 {"q\"k", make(Kind::kNull), false}}));
  check_table(s, {{R"({"b":1})", true},
                  {R"({"a":1,"b":2})", true},
                  {R"({"a":1,"b":2,"c":3})", true},
                  {R"({"b":2,"q\"k":null})", true},
                  {R"({"a":1})", false},
                  {R"({"c":3})", false},
                  {R"({})", false},
                  {R"({"b":1,"b":2})", false}});
  auto closed = make(Kind::kObject);
  closed->additional_properties_allowed = false;
  check_table(compiled(closed), {{"{}", true}, {R"({"a":1})", false}});
  auto map = make(Kind::kObject);
  map->additional_properties = make(Kind::kInteger);
  check_table(compiled(map), {{"{}", true}, {R"({"x":1,"y":2})", true}, {R"({"x":"s"})", false}});
}

TEST(JsonAutomaton, CompileErrors) {
  auto bad_len = string_node(5, 2);
  EXPECT_FALSE(compile_json_schema(*bad_len).is_ok());
  EXPECT_FALSE(compile_json_schema(*enum_node({})).is_ok());
  EXPECT_FALSE(compile_json_schema(*array_node(nullptr, 3, 1)).is_ok());
  auto dup = object_node({{"a", nullptr, false}, {"a", nullptr, false}});
  EXPECT_FALSE(compile_json_schema(*dup).is_ok());
  Node deep = make(Kind::kInteger);
  for (int i = 0; i < kMaxSchemaDepth + 2; ++i) deep = array_node(deep);
  auto r = compile_json_schema(*deep);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("deeper"), std::string::npos);
}

// ------------------------------------------------------------------ constraint over a vocabulary

struct TestVocab {
  std::shared_ptr<const TokenVocabulary> vocab;
  std::vector<std::string> bytes;
  int32_t eog = -1;
  int32_t think_end = -1;
};

TestVocab make_vocab() {
  std::vector<std::string> t;
  for (int c = 0x20; c < 0x7F; ++c) t.emplace_back(1, static_cast<char>(c));
  for (const char* s : {"\n",
                        "\t",
                        "  ",
                        "\n  ",
                        "{\"",
                        "\":",
                        "\",\"",
                        "\":\"",
                        "\"}",
                        "}",
                        "true",
                        "false",
                        "null",
                        "12",
                        "345",
                        "-1",
                        "0.",
                        "e+",
                        "\"name\"",
                        "name",
                        "age",
                        "\"age\":",
                        "tags",
                        "ok",
                        "\"ok\":true}",
                        "[\"",
                        "\"]",
                        "\",",
                        "\\n",
                        "\\u00",
                        "\\ud8",
                        "\xC3\xA9",
                        "\xC3",
                        "\xA9",
                        "\xE2\x82",
                        "\xAC",
                        "\xFF",
                        "\xF0\x9F\x98\x80",
                        "ab\"}",
                        "\"a\"",
                        "\"bb\"",
                        "\"c\"",
                        "],\"",
                        "\":[",
                        "\":{",
                        "}}",
                        "]}",
                        "0",
                        "1.5e3",
                        "  \"",
                        "a",
                        "bb",
                        "ccc"})
    t.emplace_back(s);
  std::vector<bool> special(t.size(), false);
  TestVocab v;
  t.emplace_back("<|im_end|>");
  special.push_back(true);
  v.eog = static_cast<int32_t>(t.size() - 1);
  t.emplace_back("</think>");
  special.push_back(true);
  v.think_end = static_cast<int32_t>(t.size() - 1);
  t.emplace_back("");  // unused row
  special.push_back(false);
  v.bytes = t;
  v.vocab = TokenVocabulary::build(t, special);
  return v;
}

// Validates a parsed value against a compiled node (the subset the tests use).
bool validates(const nlohmann::json& j, const JsonSchemaNode* n) {
  if (!n) return true;
  switch (n->kind) {
    case Kind::kAny:
      return true;
    case Kind::kNull:
      return j.is_null();
    case Kind::kBoolean:
      return j.is_boolean();
    case Kind::kInteger:
      return j.is_number_integer();
    case Kind::kNumber:
      return j.is_number() && std::isfinite(j.get<double>());
    case Kind::kString: {
      if (!j.is_string()) return false;
      size_t cps = 0;
      for (unsigned char c : j.get<std::string>()) cps += (c & 0xC0) != 0x80;
      return cps >= n->min_length && cps <= n->max_length;
    }
    case Kind::kEnum:
      for (const auto& v : n->enum_values)
        if (nlohmann::json::parse(v) == j) return true;
      return false;
    case Kind::kAnyOf:
      for (const auto& c : n->any_of)
        if (validates(j, c.get())) return true;
      return false;
    case Kind::kArray:
      if (!j.is_array() || j.size() < n->min_items || j.size() > n->max_items) return false;
      for (const auto& e : j)
        if (!validates(e, n->items.get())) return false;
      return true;
    case Kind::kObject: {
      if (!j.is_object()) return false;
      for (const auto& p : n->properties) {
        if (!j.contains(p.name)) {
          if (p.required) return false;
          continue;
        }
        if (!validates(j[p.name], p.schema.get())) return false;
      }
      if (n->properties.empty()) {
        if (!n->additional_properties_allowed && !j.empty()) return false;
        for (const auto& [k, v] : j.items())
          if (!validates(v, n->additional_properties.get())) return false;
      } else {
        for (const auto& [k, v] : j.items()) {
          bool known = false;
          for (const auto& p : n->properties) known = known || p.name == k;
          if (!known) return false;
        }
      }
      return true;
    }
  }
  return false;
}

// One random generation: checks mask == allows at every step, then that the text parses and
// validates. Returns false when the step cap is hit (unbounded schemas).
bool random_walk(const TestVocab& v, const std::shared_ptr<const JsonSchemaNode>& schema,
                 std::mt19937& rng, bool thinking, std::string* out) {
  JsonSchemaConstraint c(schema, v.vocab, {v.eog}, thinking ? v.think_end : -1);
  const int32_t n_vocab = static_cast<int32_t>(v.bytes.size()) + 3;  // padding rows too
  std::string text;
  int thought = 0;
  for (int step = 0; step < 400; ++step) {
    std::vector<float> logits(static_cast<size_t>(n_vocab), 0.0f);
    c.mask_logits(logits.data(), n_vocab);
    std::vector<int32_t> allowed;
    for (int32_t t = 0; t < n_vocab; ++t) {
      const bool masked_ok = logits[t] == 0.0f;
      EXPECT_EQ(masked_ok, c.allows(t)) << "token " << t << " after '" << text << "'";
      if (masked_ok) allowed.push_back(t);
    }
    EXPECT_FALSE(allowed.empty()) << "stuck after '" << text << "'";
    if (allowed.empty()) return false;
    const bool eog_ok = logits[v.eog] == 0.0f;
    EXPECT_EQ(eog_ok, c.constrained() && c.can_finish());
    int32_t pick;
    if (c.constrained()) {
      if (eog_ok) {
        pick = v.eog;  // end as soon as possible
      } else {
        // Prefer tokens that close things half of the time so walks terminate.
        std::vector<int32_t> closing;
        for (int32_t t : allowed) {
          const std::string& b = v.bytes[t];
          if (!b.empty() &&
              (b.back() == '}' || b.back() == ']' || b.back() == '"' || b == "true" || b == "0"))
            closing.push_back(t);
        }
        const auto& pool = (!closing.empty() && rng() % 2) ? closing : allowed;
        pick = pool[rng() % pool.size()];
      }
    } else {
      EXPECT_FALSE(eog_ok);
      pick =
          (++thought > 3 && std::find(allowed.begin(), allowed.end(), v.think_end) != allowed.end())
              ? v.think_end
              : allowed[rng() % allowed.size()];
    }
    const bool was_constrained = c.constrained();
    c.accept(pick);
    if (pick == v.eog) {
      *out = text;
      return true;
    }
    if (was_constrained) text += v.bytes[pick];
  }
  return false;
}

void walk_many(const std::shared_ptr<const JsonSchemaNode>& schema, int n, bool thinking,
               int min_finished) {
  TestVocab v = make_vocab();
  std::mt19937 rng(1234);
  int finished = 0;
  for (int i = 0; i < n; ++i) {
    std::string text;
    if (!random_walk(v, schema, rng, thinking, &text)) continue;
    ++finished;
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << text;
    EXPECT_TRUE(validates(j, schema.get())) << text;
  }
  EXPECT_GE(finished, min_finished);
}

TEST(JsonSchemaConstraint, RandomWalksPerson) {
  walk_many(compiled(person_schema()), 30, false, 25);
}

TEST(JsonSchemaConstraint, RandomWalksAfterThinking) {
  walk_many(compiled(person_schema()), 10, true, 8);
}

TEST(JsonSchemaConstraint, RandomWalksMixed) {
  auto s =
      object_node({{"id", any_of({make(Kind::kInteger), make(Kind::kNull)}), true},
                   {"x", make(Kind::kNumber), false},
                   {"list", array_node(object_node({{"k", string_node(0, 4), true}}), 1, 2), true},
                   {"e", enum_node({"1", "12", "\"bb\"", "true"}), false}});
  walk_many(compiled(s), 30, false, 25);
  walk_many(compiled(array_node(string_node(0, 3), 0, 4)), 20, false, 15);
  walk_many(compiled(make(Kind::kNumber)), 20, false, 15);
}

TEST(JsonSchemaConstraint, RandomWalksJsonObject) {
  // Free keys and strings are unbounded: only completed walks are checked.
  walk_many(json_object_schema(), 20, false, 1);
}

TEST(JsonSchemaConstraint, EndOfGenerationOnlyAtTheEnd) {
  TestVocab v = make_vocab();
  auto s = compiled(make(Kind::kInteger));
  JsonSchemaConstraint c(s, v.vocab, {v.eog});
  EXPECT_FALSE(c.allows(v.eog));
  EXPECT_FALSE(c.allows(v.think_end));
  const int32_t twelve =
      static_cast<int32_t>(std::find(v.bytes.begin(), v.bytes.end(), "12") - v.bytes.begin());
  ASSERT_TRUE(c.allows(twelve));
  c.accept(twelve);
  EXPECT_TRUE(c.allows(v.eog));
  EXPECT_TRUE(c.allows(twelve));  // 1212 is still an integer
  auto obj = compiled(object_node({}));
  JsonSchemaConstraint o(obj, v.vocab, {v.eog});
  const int32_t open =
      static_cast<int32_t>(std::find(v.bytes.begin(), v.bytes.end(), "{") - v.bytes.begin());
  const int32_t close =
      static_cast<int32_t>(std::find(v.bytes.begin(), v.bytes.end(), "}") - v.bytes.begin());
  o.accept(open);
  o.accept(close);
  // After a closed value only end of generation.
  std::vector<float> logits(v.bytes.size(), 1.0f);
  o.mask_logits(logits.data(), static_cast<int32_t>(logits.size()));
  for (size_t t = 0; t < logits.size(); ++t)
    EXPECT_EQ(std::isfinite(logits[t]), static_cast<int32_t>(t) == v.eog) << t;
}

TEST(TokenVocabulary, TrieHoldsEveryNonSpecialToken) {
  TestVocab v = make_vocab();
  const auto& trie = v.vocab->trie();
  std::vector<int> seen(v.bytes.size(), 0);
  // Walk every path and compare the bytes of the tokens found against the path.
  std::vector<std::pair<uint32_t, std::string>> stack{{0, ""}};
  while (!stack.empty()) {
    auto [node, path] = stack.back();
    stack.pop_back();
    for (uint32_t k = 0; k < trie[node].n_tokens; ++k) {
      int32_t id = v.vocab->trie_tokens()[trie[node].first_token + k];
      EXPECT_EQ(v.bytes[id], path);
      ++seen[id];
    }
    for (uint32_t ch = 0; ch < trie[node].n_children; ++ch) {
      uint32_t child = trie[node].first_child + ch;
      stack.emplace_back(child, path + static_cast<char>(trie[child].byte));
    }
  }
  for (size_t id = 0; id < v.bytes.size(); ++id) {
    const bool expected = !v.bytes[id].empty() && static_cast<int32_t>(id) != v.eog &&
                          static_cast<int32_t>(id) != v.think_end;
    EXPECT_EQ(seen[id], expected ? 1 : 0) << id;
  }
}

}  // namespace
}  // namespace hearth::sampling
