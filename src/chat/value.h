// chat::Value: a small JSON-like tree (null, bool, int, double, string, array, object with
// insertion-ordered keys) used for tool definitions and tool-call arguments, so that no JSON
// library type appears in the chat layer's public headers. Also owns the two serialisations the
// Qwen3.5 template relies on (`tojson` = Python json.dumps(ensure_ascii=False), and Python str())
// and a strict JSON parser for tool-call argument values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"

namespace hearth::chat {

class Value {
 public:
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  using Array = std::vector<Value>;
  // Keys keep insertion order (the template's tojson prints them in the order given).
  using Object = std::vector<std::pair<std::string, Value>>;

  Value() = default;
  Value(std::nullptr_t) {}                              // NOLINT implicit
  Value(bool b) : data_(b) {}                           // NOLINT implicit
  Value(int i) : data_(static_cast<int64_t>(i)) {}      // NOLINT implicit
  Value(int64_t i) : data_(i) {}                        // NOLINT implicit
  Value(double d) : data_(d) {}                         // NOLINT implicit
  Value(std::string s) : data_(std::move(s)) {}         // NOLINT implicit
  Value(std::string_view s) : data_(std::string(s)) {}  // NOLINT implicit
  Value(const char* s) : data_(std::string(s)) {}       // NOLINT implicit
  Value(Array a) : data_(std::move(a)) {}               // NOLINT implicit
  Value(Object o) : data_(std::move(o)) {}              // NOLINT implicit

  static Value array() { return Value(Array{}); }
  static Value object() { return Value(Object{}); }

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_double() const { return kind() == Kind::kDouble; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_object() const { return kind() == Kind::kObject; }

  // Accessors: calling one for the wrong kind is a programming error (std::bad_variant_access).
  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_double() const { return std::get<double>(data_); }
  // Int or double as a double.
  double as_number() const { return is_int() ? static_cast<double>(as_int()) : as_double(); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const Array& as_array() const { return std::get<Array>(data_); }
  Array& as_array() { return std::get<Array>(data_); }
  const Object& as_object() const { return std::get<Object>(data_); }
  Object& as_object() { return std::get<Object>(data_); }

  // Object member lookup; nullptr when this is not an object or the key is absent.
  const Value* find(std::string_view key) const;
  // Sets an object member: replaces the value in place when the key exists (its position is
  // kept, like a Python dict), else appends. Turns a null into an empty object first.
  void set(std::string key, Value value);
  // Appends to an array (a null becomes an empty array first).
  void push_back(Value value);
  // Elements of an array or members of an object; 0 for scalars.
  size_t size() const;

  friend bool operator==(const Value& a, const Value& b) { return a.data_ == b.data_; }

 private:
  // Alternative order matches Kind.
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> data_;
};

// Python json.dumps(value, ensure_ascii=False): separators ", " and ": ", keys in insertion
// order, non-ASCII written raw, floats as Python repr (NaN/Infinity as Python writes them).
std::string to_json(const Value& value);
// Python str(value) as the template's `| string` filter gives it: strings raw, True/False/None,
// ints in decimal, floats as repr. Arrays and objects give to_json() (the template never passes
// them to `string`: it uses tojson for them).
std::string to_python_str(const Value& value);
// Python repr() of a float ("3.5", "1.0", "1e+16", "1e-05", "inf", "nan").
std::string python_float_repr(double value);

// Strict JSON (RFC 8259) text -> Value. Integers that fit int64 become kInt, other numbers
// kDouble. Object keys keep their order (a repeated key keeps its first position, last value).
// Nesting deeper than 256 levels is rejected.
Result<Value> parse_json(std::string_view text);

}  // namespace hearth::chat
