// chat::Value: Python-compatible serialisation (json.dumps(ensure_ascii=False), str(), float
// repr) and the strict JSON parser.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "chat/value.h"

namespace hearth::chat {
namespace {

TEST(Value, PythonFloatRepr) {
  // Expected strings are CPython 3.11 repr() outputs.
  struct Case {
    double value;
    const char* repr;
  } cases[] = {
      {3.5, "3.5"},
      {1.0, "1.0"},
      {0.1, "0.1"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {1e-5, "1e-05"},
      {0.0001, "0.0001"},
      {-0.0, "-0.0"},
      {0.0, "0.0"},
      {1.5e300, "1.5e+300"},
      {123456789.123, "123456789.123"},
      {2.5e-7, "2.5e-07"},
      {0.1 + 0.2, "0.30000000000000004"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {-12345.678, "-12345.678"},
      {100.0, "100.0"},
      {1e22, "1e+22"},
  };
  for (const Case& c : cases) EXPECT_EQ(python_float_repr(c.value), c.repr) << c.repr;
  EXPECT_EQ(python_float_repr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(python_float_repr(std::nan("")), "nan");
}

TEST(Value, ToJsonMatchesPythonDumps) {
  Value v = Value::object();
  v.set("a\"\\\n\x1f\x7f", Value(Value::Array{Value("é😀"), Value(), Value(true)}));
  // json.dumps({...}, ensure_ascii=False) from CPython.
  EXPECT_EQ(to_json(v), "{\"a\\\"\\\\\\n\\u001f\x7f\": [\"é😀\", null, true]}");
  Value nested = Value::object();
  nested.set("z", 1);
  nested.set("a", Value::Array{Value(1.0), Value(int64_t{-7}), Value::object(), Value::array()});
  nested.set("t", "\t\r\b\f");
  EXPECT_EQ(to_json(nested), R"({"z": 1, "a": [1.0, -7, {}, []], "t": "\t\r\b\f"})");
  EXPECT_EQ(to_json(Value(std::numeric_limits<double>::infinity())), "Infinity");
  EXPECT_EQ(to_json(Value(-std::numeric_limits<double>::infinity())), "-Infinity");
  EXPECT_EQ(to_json(Value(std::nan(""))), "NaN");
}

TEST(Value, PythonStr) {
  EXPECT_EQ(to_python_str(Value(true)), "True");
  EXPECT_EQ(to_python_str(Value(false)), "False");
  EXPECT_EQ(to_python_str(Value()), "None");
  EXPECT_EQ(to_python_str(Value(7)), "7");
  EXPECT_EQ(to_python_str(Value(3.0)), "3.0");
  EXPECT_EQ(to_python_str(Value("multi\nline")), "multi\nline");
}

TEST(Value, SetKeepsPositionAndFindWorks) {
  Value v;
  v.set("b", 1);
  v.set("a", 2);
  v.set("b", 3);
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v.as_object()[0].first, "b");
  EXPECT_EQ(*v.find("b"), Value(3));
  EXPECT_EQ(v.find("zz"), nullptr);
  EXPECT_EQ(Value(1).find("a"), nullptr);
  Value arr;
  arr.push_back("x");
  EXPECT_TRUE(arr.is_array());
  EXPECT_EQ(arr.size(), 1u);
}

TEST(Value, ParseJson) {
  Result<Value> r =
      parse_json(R"( {"b": [1, -2.5e3, true, false, null, "\u00e9\ud83d\ude00\n\/"], "a": {}} )");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->as_object()[0].first, "b");
  const Value::Array& b = r->find("b")->as_array();
  EXPECT_TRUE(b[0].is_int());
  EXPECT_EQ(b[0].as_int(), 1);
  EXPECT_TRUE(b[1].is_double());
  EXPECT_EQ(b[1].as_double(), -2500.0);
  EXPECT_EQ(b[4], Value());
  EXPECT_EQ(b[5].as_string(), "é😀\n/");
  // Round trip through the serialiser.
  EXPECT_EQ(to_json(*r), R"({"b": [1, -2500.0, true, false, null, "é😀\n/"], "a": {}})");

  // Integers beyond int64 become doubles; duplicate keys keep the first position, last value.
  EXPECT_TRUE(parse_json("9223372036854775807")->is_int());
  EXPECT_TRUE(parse_json("9223372036854775808")->is_double());
  Result<Value> dup = parse_json(R"({"k": 1, "j": 2, "k": 3})");
  ASSERT_TRUE(dup.is_ok());
  EXPECT_EQ(to_json(*dup), R"({"k": 3, "j": 2})");
  EXPECT_TRUE(std::isinf(parse_json("1e999")->as_double()));
}

TEST(Value, ParseJsonRejectsBadInput) {
  for (const char* bad : {"",          " ",       "{",           "[1,]",        "{\"a\":}", "01",
                          "-",         "1.",      "1e",          "+1",          "tru",      "nul",
                          "\"abc",     "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"", "[1] 2",
                          "{\"a\" 1}", "{1: 2}",  "NaN",         "'single'"}) {
    EXPECT_FALSE(parse_json(bad).is_ok()) << bad;
  }
  std::string deep(300, '[');
  deep += std::string(300, ']');
  Result<Value> r = parse_json(deep);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("nesting too deep"), std::string::npos);
  std::string ok_deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_TRUE(parse_json(ok_deep).is_ok());
}

}  // namespace
}  // namespace hearth::chat
