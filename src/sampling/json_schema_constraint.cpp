// JSON-schema structured output: schema compilation, the byte automaton, the vocabulary trie and
// the token constraint (see json_schema_constraint.h for what is generated and why).
#include "sampling/json_schema_constraint.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/log.h"
#include "base/utf8.h"

namespace hearth::sampling {
namespace {

using Kind = JsonSchemaNode::Kind;

enum FrameKind : uint8_t { kValue, kObject, kFreeObject, kArray, kString, kNumber, kLiteral };

// Container sub-states (objects and arrays share the names that apply).
enum : uint8_t { kOpen, kKey, kColon, kAfterValue, kComma };
// String sub-states.
enum : uint8_t { kStrNormal, kStrEscape, kStrHex, kStrUtf8 };
// Number sub-states.
enum : uint8_t {
  kNumMinus,
  kNumZero,
  kNumInt,
  kNumDot,
  kNumFrac,
  kNumExp,
  kNumExpSign,
  kNumExpDigits
};

constexpr uint32_t kMaxIntDigits = 16;
constexpr uint32_t kMaxFracDigits = 16;
constexpr uint32_t kMaxExpDigits = 2;

const JsonSchemaNode* any_node() {
  static const JsonSchemaNode node;  // kind kAny
  return &node;
}
const JsonSchemaNode* any_string_node() {
  static const JsonSchemaNode node = [] {
    JsonSchemaNode n;
    n.kind = Kind::kString;
    return n;
  }();
  return &node;
}
const JsonSchemaNode* literal_node(std::vector<std::string> texts) {
  auto* n = new JsonSchemaNode;  // intentionally immortal (function-local statics below)
  n->kind = Kind::kEnum;
  n->enum_values = std::move(texts);
  return n;
}
const JsonSchemaNode* bool_node() {
  static const JsonSchemaNode* node = literal_node({"false", "true"});
  return node;
}
const JsonSchemaNode* null_node() {
  static const JsonSchemaNode* node = literal_node({"null"});
  return node;
}

// Only space and newline are generated (JSON also allows tab and CR; they add nothing but noise).
bool is_ws(uint8_t c) {
  return c == ' ' || c == '\n';
}
bool is_digit(uint8_t c) {
  return c >= '0' && c <= '9';
}
bool is_hex(uint8_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool can_start(const JsonSchemaNode* n, uint8_t c) {
  switch (n->kind) {
    case Kind::kAny:
      return c == '{' || c == '[' || c == '"' || c == '-' || is_digit(c) || c == 't' || c == 'f' ||
             c == 'n';
    case Kind::kObject:
      return c == '{';
    case Kind::kArray:
      return c == '[';
    case Kind::kString:
      return c == '"';
    case Kind::kNumber:
    case Kind::kInteger:
      return c == '-' || is_digit(c);
    case Kind::kBoolean:
      return c == 't' || c == 'f';
    case Kind::kNull:
      return c == 'n';
    case Kind::kEnum:
      for (const auto& v : n->enum_values)
        if (static_cast<uint8_t>(v[0]) == c) return true;
      return false;
    case Kind::kAnyOf:
      for (const auto& child : n->any_of)
        if (can_start(child.get(), c)) return true;
      return false;
  }
  return false;
}

bool number_accepting(uint8_t sub) {
  return sub == kNumZero || sub == kNumInt || sub == kNumFrac || sub == kNumExpDigits;
}

// Object key candidates from property `next`: every property up to and including the first
// required one (optional ones may be skipped, required ones may not).
uint64_t key_candidates(const JsonSchemaNode* n, uint32_t next) {
  const uint32_t np = static_cast<uint32_t>(n->properties.size());
  if (next >= np) return 0;
  uint32_t last = std::min(n->next_required[next], np - 1);
  uint64_t upto = last >= 63 ? ~uint64_t{0} : ((uint64_t{1} << (last + 1)) - 1);
  uint64_t from = (uint64_t{1} << next) - 1;
  return upto & ~from;
}

struct CompileContext {
  size_t nodes = 0;
};

Status compile_node(JsonSchemaNode* n, int depth, CompileContext* ctx);

Status compile_child(std::shared_ptr<JsonSchemaNode>* child, int depth, CompileContext* ctx) {
  if (!*child) return Status::ok();
  return compile_node(child->get(), depth, ctx);
}

Status compile_node(JsonSchemaNode* n, int depth, CompileContext* ctx) {
  if (depth > kMaxSchemaDepth)
    return invalid_argument_error(
        str_format("the schema is nested deeper than %d levels", kMaxSchemaDepth));
  if (++ctx->nodes > kMaxSchemaNodes)
    return invalid_argument_error(
        str_format("the schema has more than %zu subschemas", kMaxSchemaNodes));
  switch (n->kind) {
    case Kind::kAny:
    case Kind::kNumber:
    case Kind::kInteger:
    case Kind::kBoolean:
    case Kind::kNull:
      return Status::ok();
    case Kind::kString:
      if (n->min_length > n->max_length)
        return invalid_argument_error("minLength is greater than maxLength");
      return Status::ok();
    case Kind::kArray:
      if (n->min_items > n->max_items)
        return invalid_argument_error("minItems is greater than maxItems");
      return compile_child(&n->items, depth + 1, ctx);
    case Kind::kEnum: {
      if (n->enum_values.empty()) return invalid_argument_error("enum must not be empty");
      if (n->enum_values.size() > kMaxEnumValues)
        return invalid_argument_error(str_format("enum has more than %zu values", kMaxEnumValues));
      for (const auto& v : n->enum_values)
        if (v.empty()) return invalid_argument_error("enum value text is empty");
      std::sort(n->enum_values.begin(), n->enum_values.end());
      n->enum_values.erase(std::unique(n->enum_values.begin(), n->enum_values.end()),
                           n->enum_values.end());
      return Status::ok();
    }
    case Kind::kObject: {
      const size_t np = n->properties.size();
      if (np > kMaxObjectProperties)
        return invalid_argument_error(
            str_format("an object schema has more than %zu properties", kMaxObjectProperties));
      n->property_keys_json.clear();
      for (size_t i = 0; i < np; ++i) {
        for (size_t j = 0; j < i; ++j)
          if (n->properties[j].name == n->properties[i].name)
            return invalid_argument_error("duplicate property '" + n->properties[i].name + "'");
        n->property_keys_json.push_back(json_quote(n->properties[i].name));
        HEARTH_RETURN_IF_ERROR(compile_child(&n->properties[i].schema, depth + 1, ctx));
      }
      n->next_required.assign(np + 1, static_cast<uint32_t>(np));
      for (size_t i = np; i-- > 0;)
        n->next_required[i] =
            n->properties[i].required ? static_cast<uint32_t>(i) : n->next_required[i + 1];
      return compile_child(&n->additional_properties, depth + 1, ctx);
    }
    case Kind::kAnyOf: {
      std::vector<std::shared_ptr<JsonSchemaNode>> flat;
      for (auto& child : n->any_of) {
        if (!child) {
          flat.push_back(std::make_shared<JsonSchemaNode>());  // an empty schema: anything
          continue;
        }
        HEARTH_RETURN_IF_ERROR(compile_node(child.get(), depth + 1, ctx));
        if (child->kind == Kind::kAnyOf) {
          flat.insert(flat.end(), child->any_of.begin(), child->any_of.end());
        } else {
          flat.push_back(child);
        }
      }
      if (flat.empty()) return invalid_argument_error("anyOf must not be empty");
      bool has_number = false;
      std::shared_ptr<JsonSchemaNode> merged_enum;
      std::vector<std::shared_ptr<JsonSchemaNode>> kept;
      for (const auto& c : flat) {
        if (c->kind == Kind::kAny) {
          *n = JsonSchemaNode{};  // anything goes
          return Status::ok();
        }
        has_number = has_number || c->kind == Kind::kNumber;
      }
      for (const auto& c : flat) {
        if (c->kind == Kind::kInteger && has_number) continue;  // number covers it
        if (c->kind == Kind::kEnum) {
          if (!merged_enum) {
            merged_enum = std::make_shared<JsonSchemaNode>(*c);
            kept.push_back(merged_enum);
          } else {
            merged_enum->enum_values.insert(merged_enum->enum_values.end(), c->enum_values.begin(),
                                            c->enum_values.end());
          }
          continue;
        }
        kept.push_back(c);
      }
      if (merged_enum) HEARTH_RETURN_IF_ERROR(compile_node(merged_enum.get(), depth + 1, ctx));
      if (kept.size() == 1) {
        JsonSchemaNode only = *kept[0];
        *n = std::move(only);
        return Status::ok();
      }
      n->any_of = std::move(kept);
      return Status::ok();
    }
  }
  return invalid_argument_error("unknown schema node kind");
}

}  // namespace

std::string json_quote(const std::string& raw) {
  std::string out;
  append_json_quoted(raw, out);
  return out;
}

Result<std::shared_ptr<const JsonSchemaNode>> compile_json_schema(JsonSchemaNode root) {
  auto node = std::make_shared<JsonSchemaNode>(std::move(root));
  CompileContext ctx;
  HEARTH_RETURN_IF_ERROR(compile_node(node.get(), 0, &ctx));
  return std::shared_ptr<const JsonSchemaNode>(std::move(node));
}

std::shared_ptr<const JsonSchemaNode> json_object_schema() {
  static const std::shared_ptr<const JsonSchemaNode> schema = [] {
    JsonSchemaNode n;
    n.kind = Kind::kObject;
    return compile_json_schema(std::move(n)).value();
  }();
  return schema;
}

// ------------------------------------------------------------------------------- automaton

JsonAutomaton::JsonAutomaton(const JsonSchemaNode* root) {
  Frame f{};
  f.node = root ? root : any_node();
  f.kind = kValue;
  frames_[0] = f;
  depth_ = 1;
}

void JsonAutomaton::copy_from(const JsonAutomaton& other) {
  depth_ = other.depth_;
  std::memcpy(frames_, other.frames_, sizeof(Frame) * static_cast<size_t>(depth_));
}

bool JsonAutomaton::push(const Frame& f) {
  if (depth_ >= kMaxFrames) return false;
  frames_[depth_++] = f;
  return true;
}

bool JsonAutomaton::feed(const std::string& bytes) {
  for (char ch : bytes)
    if (!step(static_cast<uint8_t>(ch))) return false;
  return true;
}

bool JsonAutomaton::feed(uint8_t byte) {
  return step(byte);
}

bool JsonAutomaton::can_finish() const {
  if (depth_ == 0) return true;
  if (depth_ != 1) return false;
  const Frame& f = frames_[0];
  if (f.kind == kNumber) return number_accepting(f.sub);
  if (f.kind == kLiteral) return f.node->enum_values[f.b].size() == f.pos;
  return false;
}

bool JsonAutomaton::in_plain_string(uint32_t* room) const {
  if (depth_ == 0) return false;
  const Frame& f = frames_[depth_ - 1];
  if (f.kind != kString || f.sub != kStrNormal) return false;
  *room = f.node->max_length - f.a;  // f.a <= max_length always
  return true;
}

// Turns the kValue frame `f` (the top) into the frame of the value that starts with `c`.
bool JsonAutomaton::start_value(Frame& f, uint8_t c) {
  if (is_ws(c)) {
    if (f.ws >= kMaxWhitespace) return false;
    ++f.ws;
    return true;
  }
  const JsonSchemaNode* n = f.node;
  if (n->kind == Kind::kAnyOf) {
    const JsonSchemaNode* picked = nullptr;
    for (const auto& child : n->any_of) {
      if (can_start(child.get(), c)) {
        picked = child.get();
        break;
      }
    }
    if (!picked) return false;
    n = picked;
  }
  const bool any = n->kind == Kind::kAny;
  f.mask = 0;
  f.a = f.b = f.c = 0;
  f.pos = 0;
  f.sub = 0;
  f.ws = 0;
  if (n->kind == Kind::kEnum || n->kind == Kind::kBoolean || n->kind == Kind::kNull ||
      (any && (c == 't' || c == 'f' || c == 'n'))) {
    if (n->kind == Kind::kBoolean || (any && c != 'n')) n = bool_node();
    if (n->kind == Kind::kNull || (any && c == 'n')) n = null_node();
    f.kind = kLiteral;
    f.node = n;
    f.b = 0;
    f.c = static_cast<uint32_t>(n->enum_values.size());
    return step(c);
  }
  // Containers need room for their own frame plus a value and a string below it.
  const bool room = depth_ + 3 <= kMaxFrames;
  switch (c) {
    case '{':
      if (!(any || n->kind == Kind::kObject) || !room) return false;
      f.node = n;
      f.sub = kOpen;
      f.kind = (any || (n->properties.empty() && n->additional_properties_allowed)) ? kFreeObject
                                                                                    : kObject;
      return true;
    case '[':
      if (!(any || n->kind == Kind::kArray) || !room) return false;
      f.node = n;
      f.kind = kArray;
      f.sub = kOpen;
      return true;
    case '"':
      if (!(any || n->kind == Kind::kString)) return false;
      f.node = any ? any_string_node() : n;
      f.kind = kString;
      f.sub = kStrNormal;
      return true;
    default:
      break;
  }
  if (c == '-' || is_digit(c)) {
    if (!(any || n->kind == Kind::kNumber || n->kind == Kind::kInteger)) return false;
    f.node = n;
    f.kind = kNumber;
    f.b = 0;
    if (c == '-') {
      f.sub = kNumMinus;
    } else if (c == '0') {
      f.sub = kNumZero;
    } else {
      f.sub = kNumInt;
      f.b = 1;
    }
    return true;
  }
  return false;
}

bool JsonAutomaton::step(uint8_t c) {
  for (;;) {
    if (depth_ == 0) return false;
    Frame& f = frames_[depth_ - 1];
    switch (f.kind) {
      case kValue:
        return start_value(f, c);

      case kObject: {
        const JsonSchemaNode* n = f.node;
        const uint32_t np = static_cast<uint32_t>(n->properties.size());
        if (f.sub != kKey && is_ws(c)) {
          if (f.ws >= kMaxWhitespace) return false;
          ++f.ws;
          return true;
        }
        switch (f.sub) {
          case kOpen:
          case kComma:
            if (c == '}' && f.sub == kOpen && n->next_required[f.a] == np) {
              --depth_;
              return true;
            }
            if (c != '"') return false;
            f.mask = key_candidates(n, f.a);
            if (f.mask == 0) return false;
            f.sub = kKey;
            f.pos = 1;
            f.ws = 0;
            return true;
          case kKey: {
            uint64_t m = 0;
            for (uint64_t rest = f.mask; rest; rest &= rest - 1) {
              int i = __builtin_ctzll(rest);
              const std::string& k = n->property_keys_json[i];
              if (k.size() > f.pos && static_cast<uint8_t>(k[f.pos]) == c) m |= uint64_t{1} << i;
            }
            if (m == 0) return false;
            f.mask = m;
            ++f.pos;
            for (uint64_t rest = m; rest; rest &= rest - 1) {
              int i = __builtin_ctzll(rest);
              if (n->property_keys_json[i].size() == f.pos) {
                f.b = static_cast<uint32_t>(i);
                f.a = static_cast<uint32_t>(i) + 1;
                f.sub = kColon;
                f.ws = 0;
                break;
              }
            }
            return true;
          }
          case kColon: {
            if (c != ':') return false;
            f.sub = kAfterValue;
            f.ws = 0;
            Frame v{};
            const auto& schema = n->properties[f.b].schema;
            v.node = schema ? schema.get() : any_node();
            v.kind = kValue;
            return push(v);
          }
          case kAfterValue:
            if (c == ',' && f.a < np) {
              f.sub = kComma;
              f.ws = 0;
              return true;
            }
            if (c == '}' && n->next_required[f.a] == np) {
              --depth_;
              return true;
            }
            return false;
        }
        return false;
      }

      case kFreeObject: {
        if (is_ws(c)) {
          if (f.ws >= kMaxWhitespace) return false;
          ++f.ws;
          return true;
        }
        switch (f.sub) {
          case kOpen:
          case kComma: {
            if (c == '}' && f.sub == kOpen) {
              --depth_;
              return true;
            }
            if (c != '"') return false;
            f.sub = kColon;
            f.ws = 0;
            Frame s{};
            s.node = any_string_node();
            s.kind = kString;
            s.sub = kStrNormal;
            return push(s);
          }
          case kColon: {
            if (c != ':') return false;
            f.sub = kAfterValue;
            f.ws = 0;
            Frame v{};
            const JsonSchemaNode* n = f.node;
            v.node = (n->kind == Kind::kObject && n->additional_properties)
                         ? n->additional_properties.get()
                         : any_node();
            v.kind = kValue;
            return push(v);
          }
          case kAfterValue:
            if (c == ',') {
              f.sub = kComma;
              f.ws = 0;
              return true;
            }
            if (c == '}') {
              --depth_;
              return true;
            }
            return false;
        }
        return false;
      }

      case kArray: {
        const JsonSchemaNode* n = f.node;
        const bool any = n->kind == Kind::kAny;
        const uint32_t min_items = any ? 0 : n->min_items;
        const uint32_t max_items = any ? UINT32_MAX : n->max_items;
        Frame v{};
        v.node = (!any && n->items) ? n->items.get() : any_node();
        v.kind = kValue;
        if (f.sub == kOpen) {
          if (c == ']' && min_items == 0) {
            --depth_;
            return true;
          }
          if (is_ws(c)) {
            if (f.ws >= kMaxWhitespace) return false;
            ++f.ws;
            return true;
          }
          if (max_items == 0) return false;
          f.a = 1;
          f.sub = kAfterValue;
          f.ws = 0;
          v.ws = kMaxWhitespace;  // the whitespace before the item was counted here
          if (!push(v)) return false;
          continue;  // the byte starts the first item
        }
        if (is_ws(c)) {
          if (f.ws >= kMaxWhitespace) return false;
          ++f.ws;
          return true;
        }
        if (c == ',' && f.a < max_items) {
          ++f.a;
          f.ws = 0;
          return push(v);
        }
        if (c == ']' && f.a >= min_items) {
          --depth_;
          return true;
        }
        return false;
      }

      case kString: {
        const JsonSchemaNode* n = f.node;
        switch (f.sub) {
          case kStrNormal:
            if (c == '"') {
              if (f.a < n->min_length) return false;
              --depth_;
              return true;
            }
            if (c < 0x20 || f.a >= n->max_length) return false;
            if (c == '\\') {
              f.sub = kStrEscape;
              ++f.a;
              return true;
            }
            if (c < 0x80) {
              ++f.a;
              return true;
            }
            // UTF-8 lead byte: remaining continuation bytes and the range of the next one
            // (excludes overlongs, surrogates and code points above U+10FFFF).
            {
              Utf8Lead lead;
              if (!utf8_lead(static_cast<uint8_t>(c), &lead)) return false;
              f.sub = kStrUtf8;
              f.c = uint32_t{lead.continuation} | (uint32_t{lead.first_lo} << 8) |
                    (uint32_t{lead.first_hi} << 16);
              ++f.a;
              return true;
            }
          case kStrUtf8: {
            const uint32_t lo = (f.c >> 8) & 0xFF, hi = (f.c >> 16) & 0xFF;
            if (c < lo || c > hi) return false;
            uint32_t rem = (f.c & 0xFF) - 1;
            f.c = rem | (0x80u << 8) | (0xBFu << 16);
            if (rem == 0) f.sub = kStrNormal;
            return true;
          }
          case kStrEscape:
            if (c == 'u') {
              f.sub = kStrHex;
              f.pos = 0;
              f.mask = 0;
              return true;
            }
            if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
                c == 't') {
              f.sub = kStrNormal;
              return true;
            }
            return false;
          case kStrHex:
            if (!is_hex(c)) return false;
            // \uD800-\uDFFF (surrogates) are never generated: a lone one is not valid text.
            if (f.pos == 0) f.mask = (c == 'd' || c == 'D') ? 1 : 0;
            if (f.pos == 1 && f.mask == 1 && !is_digit(c)) return false;
            if (f.pos == 1 && f.mask == 1 && c >= '8') return false;
            if (++f.pos == 4) f.sub = kStrNormal;
            return true;
        }
        return false;
      }

      case kNumber: {
        const bool integer = f.node->kind == Kind::kInteger;
        switch (f.sub) {
          case kNumMinus:
            if (c == '0') {
              f.sub = kNumZero;
              return true;
            }
            if (is_digit(c)) {
              f.sub = kNumInt;
              f.b = 1;
              return true;
            }
            return false;
          case kNumZero:
          case kNumInt:
            if (is_digit(c)) {
              if (f.sub == kNumZero || f.b >= kMaxIntDigits) return false;
              ++f.b;
              return true;
            }
            if (!integer && c == '.') {
              f.sub = kNumDot;
              return true;
            }
            if (!integer && (c == 'e' || c == 'E')) {
              f.sub = kNumExp;
              return true;
            }
            break;  // the number ended; the byte belongs to the parent
          case kNumDot:
            if (!is_digit(c)) return false;
            f.sub = kNumFrac;
            f.b = 1;
            return true;
          case kNumFrac:
            if (is_digit(c)) {
              if (f.b >= kMaxFracDigits) return false;
              ++f.b;
              return true;
            }
            if (c == 'e' || c == 'E') {
              f.sub = kNumExp;
              return true;
            }
            break;
          case kNumExp:
            if (c == '+' || c == '-') {
              f.sub = kNumExpSign;
              return true;
            }
            [[fallthrough]];
          case kNumExpSign:
            if (!is_digit(c)) return false;
            f.sub = kNumExpDigits;
            f.b = 1;
            return true;
          case kNumExpDigits:
            if (is_digit(c)) {
              if (f.b >= kMaxExpDigits) return false;
              ++f.b;
              return true;
            }
            break;
          default:
            return false;
        }
        // A digit after a full-length number is refused by the parent too, so ending here is
        // exact.
        if (is_digit(c)) return false;
        --depth_;
        continue;
      }

      case kLiteral: {
        const auto& v = f.node->enum_values;
        uint32_t nlo = f.c, nhi = f.c;
        for (uint32_t i = f.b; i < f.c; ++i) {
          if (v[i].size() > f.pos && static_cast<uint8_t>(v[i][f.pos]) == c) {
            if (nlo == f.c) nlo = i;
            nhi = i + 1;
          }
        }
        if (nlo < nhi) {
          f.b = nlo;
          f.c = nhi;
          ++f.pos;
          if (nhi - nlo == 1 && v[nlo].size() == f.pos) --depth_;
          return true;
        }
        // Only number texts can be a prefix of another value text (1 and 12); the byte after a
        // complete one belongs to the parent.
        if (v[f.b].size() == f.pos) {
          --depth_;
          continue;
        }
        return false;
      }
    }
    return false;
  }
}

// ------------------------------------------------------------------------------ vocabulary

namespace {

// Code points of `bytes` when it is plain string text (valid UTF-8, no '"', '\\' or control
// bytes), else -1.
int64_t count_plain_code_points(const std::string& bytes) {
  int64_t cps = 0;
  for (size_t i = 0; i < bytes.size();) {
    const uint8_t c = static_cast<uint8_t>(bytes[i]);
    if (c < 0x20 || c == '"' || c == '\\') return -1;
    uint32_t cp;
    // 0 also when the character continues in the next token.
    const size_t length = decode_utf8(bytes, i, &cp);
    if (length == 0) return -1;
    i += length;
    ++cps;
  }
  return cps;
}

}  // namespace

TokenVocabulary::Trie TokenVocabulary::build_trie(const std::vector<std::string>& bytes,
                                                  std::vector<int32_t> ids) {
  std::sort(ids.begin(), ids.end(), [&](int32_t x, int32_t y) {
    return bytes[x] != bytes[y] ? bytes[x] < bytes[y] : x < y;
  });
  Trie trie;
  trie.nodes.push_back(TrieNode{0, 0, 0, 0, 0});
  // Builds the subtree of `node` from ids[lo, hi), which share their first `depth` bytes. Every
  // node's children are allocated together so they are contiguous.
  struct Builder {
    Trie* t;
    const std::vector<std::string>& bytes;
    const std::vector<int32_t>& ids;
    void build(uint32_t node, size_t lo, size_t hi, size_t depth) {
      t->nodes[node].first_token = static_cast<uint32_t>(t->tokens.size());
      while (lo < hi && bytes[ids[lo]].size() == depth) t->tokens.push_back(ids[lo++]);
      t->nodes[node].n_tokens =
          static_cast<uint32_t>(t->tokens.size()) - t->nodes[node].first_token;
      std::vector<std::pair<size_t, size_t>> groups;  // [n_children] id ranges
      for (size_t i = lo; i < hi;) {
        size_t j = i;
        while (j < hi && bytes[ids[j]][depth] == bytes[ids[i]][depth]) ++j;
        groups.emplace_back(i, j);
        i = j;
      }
      const uint32_t first = static_cast<uint32_t>(t->nodes.size());
      t->nodes[node].first_child = first;
      t->nodes[node].n_children = static_cast<uint32_t>(groups.size());
      for (const auto& [glo, ghi] : groups)
        t->nodes.push_back(TrieNode{0, 0, 0, 0, static_cast<uint8_t>(bytes[ids[glo]][depth])});
      for (size_t g = 0; g < groups.size(); ++g)
        build(first + static_cast<uint32_t>(g), groups[g].first, groups[g].second, depth + 1);
    }
  };
  Builder{&trie, bytes, ids}.build(0, 0, ids.size(), 0);
  return trie;
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::build(std::vector<std::string> token_bytes,
                                                              std::vector<bool> special) {
  auto v = std::make_shared<TokenVocabulary>();
  special.resize(token_bytes.size(), true);
  std::vector<int32_t> ids, non_plain;
  std::vector<std::pair<uint32_t, int32_t>> plain;  // (code points, id)
  for (size_t i = 0; i < token_bytes.size(); ++i) {
    if (special[i] || token_bytes[i].empty()) continue;
    const int32_t id = static_cast<int32_t>(i);
    ids.push_back(id);
    v->max_len_ = std::max(v->max_len_, token_bytes[i].size());
    const int64_t cps = count_plain_code_points(token_bytes[i]);
    if (cps < 0) {
      non_plain.push_back(id);
    } else {
      plain.emplace_back(static_cast<uint32_t>(cps), id);
    }
  }
  std::sort(plain.begin(), plain.end());
  for (const auto& [cps, id] : plain) {
    v->plain_.push_back(id);
    v->plain_cps_.push_back(cps);
  }
  v->all_ = build_trie(token_bytes, std::move(ids));
  v->non_plain_ = build_trie(token_bytes, std::move(non_plain));
  v->bytes_ = std::move(token_bytes);
  v->special_ = std::move(special);
  return v;
}

// ------------------------------------------------------------------------------ constraint

JsonSchemaConstraint::JsonSchemaConstraint(std::shared_ptr<const JsonSchemaNode> schema,
                                           std::shared_ptr<const TokenVocabulary> vocab,
                                           std::vector<int32_t> eog_ids, int32_t free_until_token)
    : schema_(std::move(schema)),
      vocab_(std::move(vocab)),
      eog_(std::move(eog_ids)),
      free_until_(free_until_token),
      free_(free_until_token >= 0),
      state_(schema_.get()) {
  std::sort(eog_.begin(), eog_.end());
  scratch_.assign(vocab_->max_token_bytes() + 1, JsonAutomaton(schema_.get()));
}

bool JsonSchemaConstraint::is_eog(int32_t token) const {
  return std::binary_search(eog_.begin(), eog_.end(), token);
}

bool JsonSchemaConstraint::allows(int32_t token) const {
  if (is_eog(token)) return !free_ && (broken_ || state_.can_finish());
  if (free_) return true;
  if (broken_ || token < 0 || token >= vocab_->size() || vocab_->special(token)) return false;
  const std::string& bytes = vocab_->bytes(token);
  if (bytes.empty()) return false;
  JsonAutomaton next(nullptr);
  next.copy_from(state_);
  return next.feed(bytes);
}

void JsonSchemaConstraint::accept(int32_t token) {
  if (free_) {
    if (token == free_until_) free_ = false;
    return;
  }
  if (is_eog(token) || broken_) return;
  if (token < 0 || token >= vocab_->size() || vocab_->special(token) ||
      vocab_->bytes(token).empty() || !state_.feed(vocab_->bytes(token))) {
    LOG_WARN(
        "structured output: token %d is outside the JSON language; only end of generation "
        "is allowed from now on",
        token);
    broken_ = true;
  }
}

void JsonSchemaConstraint::walk(const TokenVocabulary::Trie& trie, uint32_t node, size_t depth,
                                std::vector<uint8_t>* allowed) const {
  const TokenVocabulary::TrieNode& parent = trie.nodes[node];
  const JsonAutomaton& here = scratch_[depth];
  JsonAutomaton& next = scratch_[depth + 1];
  for (uint32_t ch = parent.first_child; ch < parent.first_child + parent.n_children; ++ch) {
    const TokenVocabulary::TrieNode& child = trie.nodes[ch];
    next.copy_from(here);
    if (!next.feed(child.byte)) continue;
    for (uint32_t k = child.first_token; k < child.first_token + child.n_tokens; ++k)
      (*allowed)[trie.tokens[k]] = 1;
    if (child.n_children > 0) walk(trie, ch, depth + 1, allowed);
  }
}

void JsonSchemaConstraint::mask_logits(float* logits, int32_t n_vocab) const {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  if (free_) {
    for (int32_t t : eog_)
      if (t >= 0 && t < n_vocab) logits[t] = kNegInf;
    return;
  }
  thread_local std::vector<uint8_t> allowed;
  allowed.assign(std::max<size_t>(static_cast<size_t>(n_vocab), vocab_->bytes_size()), 0);
  if (!broken_ && !state_.closed()) {
    scratch_[0].copy_from(state_);
    uint32_t room = 0;
    if (state_.in_plain_string(&room)) {
      // Inside a string most of the vocabulary is plain text whose fate depends only on its
      // length: allow those in bulk and walk only the rest.
      const auto& cps = vocab_->plain_code_points();
      const size_t n_fit =
          static_cast<size_t>(std::upper_bound(cps.begin(), cps.end(), room) - cps.begin());
      const auto& plain = vocab_->plain_tokens();
      for (size_t i = 0; i < n_fit; ++i) allowed[plain[i]] = 1;
      walk(vocab_->non_plain_tokens(), 0, 0, &allowed);
    } else {
      walk(vocab_->all_tokens(), 0, 0, &allowed);
    }
  }
  if (broken_ || state_.can_finish())
    for (int32_t t : eog_)
      if (t >= 0 && t < n_vocab) allowed[t] = 1;
  // Tokens the vocabulary does not know (padding rows beyond it) stay forbidden: allowed is 0.
  for (int32_t t = 0; t < n_vocab; ++t)
    if (!allowed[t]) logits[t] = kNegInf;
}

}  // namespace hearth::sampling
