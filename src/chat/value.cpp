// chat::Value operations, its Python-compatible serialisers and its JSON parser.
#include "chat/value.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "base/utf8.h"

namespace hearth::chat {

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : as_object()) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Value::set(std::string key, Value value) {
  if (is_null()) data_ = Object{};
  Object& members = as_object();
  for (auto& [k, v] : members) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  members.emplace_back(std::move(key), std::move(value));
}

void Value::push_back(Value value) {
  if (is_null()) data_ = Array{};
  as_array().push_back(std::move(value));
}

size_t Value::size() const {
  if (is_array()) return as_array().size();
  if (is_object()) return as_object().size();
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Serialisers

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  // Shortest round-trip digits in scientific form ("d.ddde+XX"), then laid out the way CPython's
  // float_repr_style 'short' does: positional when -4 < decimal_point <= 16, else exponent.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    i = 1;
  }
  size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t k = i; k < e_pos; ++k) {
    if (sci[k] != '.') digits.push_back(sci[k]);
  }
  int exponent = std::atoi(sci.c_str() + e_pos + 1);
  int decimal_point = exponent + 1;  // digits d1d2d3 mean 0.d1d2d3 * 10^decimal_point
  int n = static_cast<int>(digits.size());
  if (decimal_point > -4 && decimal_point <= 16) {
    if (decimal_point <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-decimal_point), '0');
      out += digits;
    } else if (decimal_point >= n) {
      out += digits;
      out.append(static_cast<size_t>(decimal_point - n), '0');
      out += ".0";
    } else {
      out += digits.substr(0, decimal_point);
      out += '.';
      out += digits.substr(decimal_point);
    }
  } else {
    out += digits[0];
    if (n > 1) {
      out += '.';
      out += digits.substr(1);
    }
    int e = decimal_point - 1;
    out += e < 0 ? "e-" : "e+";
    int abs_e = e < 0 ? -e : e;
    if (abs_e < 10) out += '0';
    out += std::to_string(abs_e);
  }
  return out;
}

namespace {

void append_json(const Value& value, std::string& out) {
  switch (value.kind()) {
    case Value::Kind::kNull:
      out += "null";
      break;
    case Value::Kind::kBool:
      out += value.as_bool() ? "true" : "false";
      break;
    case Value::Kind::kInt:
      out += std::to_string(value.as_int());
      break;
    case Value::Kind::kDouble: {
      double d = value.as_double();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d < 0 ? "-Infinity" : "Infinity";
      } else {
        out += python_float_repr(d);
      }
      break;
    }
    case Value::Kind::kString:
      append_json_quoted(value.as_string(), out);
      break;
    case Value::Kind::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Value& v : value.as_array()) {
        if (!first) out += ", ";
        first = false;
        append_json(v, out);
      }
      out.push_back(']');
      break;
    }
    case Value::Kind::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, v] : value.as_object()) {
        if (!first) out += ", ";
        first = false;
        append_json_quoted(k, out);
        out += ": ";
        append_json(v, out);
      }
      out.push_back('}');
      break;
    }
  }
}

}  // namespace

std::string to_json(const Value& value) {
  std::string out;
  append_json(value, out);
  return out;
}

std::string to_python_str(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kNull:
      return "None";
    case Value::Kind::kBool:
      return value.as_bool() ? "True" : "False";
    case Value::Kind::kInt:
      return std::to_string(value.as_int());
    case Value::Kind::kDouble:
      return python_float_repr(value.as_double());
    case Value::Kind::kString:
      return value.as_string();
    default:
      return to_json(value);
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

namespace {

constexpr int kMaxDepth = 256;

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  Result<Value> parse_document() {
    skip_ws();
    HEARTH_ASSIGN_OR_RETURN(Value v, parse_value(0));
    skip_ws();
    if (pos_ != text_.size()) return error("unexpected text after the JSON value");
    return v;
  }

 private:
  Status error(const char* what) const {
    return invalid_argument_error(str_format("invalid JSON at offset %zu: %s", pos_, what));
  }

  void skip_ws() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  bool consume_literal(std::string_view lit) {
    if (text_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }

  Result<Value> parse_value(int depth) {
    if (depth > kMaxDepth) return error("nesting too deep");
    if (pos_ >= text_.size()) return error("unexpected end of input");
    char c = text_[pos_];
    switch (c) {
      case '{':
        return parse_object(depth);
      case '[':
        return parse_array(depth);
      case '"': {
        HEARTH_ASSIGN_OR_RETURN(std::string s, parse_string());
        return Value(std::move(s));
      }
      case 't':
        if (consume_literal("true")) return Value(true);
        return error("invalid literal");
      case 'f':
        if (consume_literal("false")) return Value(false);
        return error("invalid literal");
      case 'n':
        if (consume_literal("null")) return Value(nullptr);
        return error("invalid literal");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        return error("unexpected character");
    }
  }

  Result<Value> parse_object(int depth) {
    ++pos_;  // '{'
    Value obj = Value::object();
    skip_ws();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return obj;
    }
    while (true) {
      skip_ws();
      if (pos_ >= text_.size() || text_[pos_] != '"') return error("expected a string key");
      HEARTH_ASSIGN_OR_RETURN(std::string key, parse_string());
      skip_ws();
      if (pos_ >= text_.size() || text_[pos_] != ':') return error("expected ':'");
      ++pos_;
      skip_ws();
      HEARTH_ASSIGN_OR_RETURN(Value v, parse_value(depth + 1));
      obj.set(std::move(key), std::move(v));
      skip_ws();
      if (pos_ >= text_.size()) return error("unterminated object");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '}') {
        ++pos_;
        return obj;
      }
      return error("expected ',' or '}'");
    }
  }

  Result<Value> parse_array(int depth) {
    ++pos_;  // '['
    Value arr = Value::array();
    skip_ws();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return arr;
    }
    while (true) {
      skip_ws();
      HEARTH_ASSIGN_OR_RETURN(Value v, parse_value(depth + 1));
      arr.push_back(std::move(v));
      skip_ws();
      if (pos_ >= text_.size()) return error("unterminated array");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == ']') {
        ++pos_;
        return arr;
      }
      return error("expected ',' or ']'");
    }
  }

  Result<uint32_t> parse_hex4() {
    if (pos_ + 4 > text_.size()) return error("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char h = text_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return error("bad hex digit in \\u escape");
      }
    }
    return v;
  }

  Result<std::string> parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) return error("unterminated string");
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in string");
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= text_.size()) return error("unterminated escape");
      char e = text_[pos_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          HEARTH_ASSIGN_OR_RETURN(uint32_t cp, parse_hex4());
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.substr(pos_, 2) != "\\u") return error("unpaired surrogate");
            pos_ += 2;
            HEARTH_ASSIGN_OR_RETURN(uint32_t lo, parse_hex4());
            if (lo < 0xDC00 || lo > 0xDFFF) return error("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return error("unpaired surrogate");
          }
          append_utf8(cp, out);
          break;
        }
        default:
          return error("invalid escape");
      }
    }
  }

  Result<Value> parse_number() {
    size_t start = pos_;
    bool is_integer = true;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size()) return error("truncated number");
    if (text_[pos_] == '0') {
      ++pos_;
    } else if (text_[pos_] >= '1' && text_[pos_] <= '9') {
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    } else {
      return error("invalid number");
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      is_integer = false;
      ++pos_;
      size_t digits_start = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == digits_start) return error("invalid number");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      is_integer = false;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      size_t digits_start = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == digits_start) return error("invalid number");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (is_integer) {
      int64_t i = 0;
      auto r = std::from_chars(first, last, i);
      if (r.ec == std::errc() && r.ptr == last) return Value(i);
      // Out of int64 range: fall through to a double (Python would keep an exact int).
    }
    double d = 0;
    auto r = std::from_chars(first, last, d);
    if (r.ec == std::errc::result_out_of_range) {
      // Overflow to +-inf like Python's float(); underflow gives 0.
      d = std::strtod(std::string(first, last).c_str(), nullptr);
    } else if (r.ec != std::errc() || r.ptr != last) {
      return error("invalid number");
    }
    return Value(d);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<Value> parse_json(std::string_view text) {
  return JsonParser(text).parse_document();
}

}  // namespace hearth::chat
