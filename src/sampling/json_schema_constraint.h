// Structured output: a native JSON-schema tree (JsonSchemaNode, no JSON library types), a
// byte-level pushdown automaton that accepts exactly the JSON texts valid for a node, a byte trie
// of a model's vocabulary (TokenVocabulary, built once per model and shared), and the
// TokenConstraint that drives generation with them (JsonSchemaConstraint).
//
// What the automaton generates, on purpose narrower than what the schema accepts, so that
// generation always terminates and stays readable:
//   - at most kMaxWhitespace whitespace bytes (space or newline) between tokens, none after the
//     root value;
//   - object properties in schema order, each at most once; required ones must appear; keys not
//     in `properties` are never generated (objects without `properties` take free keys);
//   - numbers: at most 16 integer digits, 16 fraction digits, 2 exponent digits;
//   - strings: valid UTF-8 only, JSON escapes, no \u escapes of surrogates, min/max length in
//     code points;
//   - anyOf: the alternative is chosen by the value's first byte (the first alternative that can
//     start with it wins; later overlapping ones are then never generated).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "sampling/sampler.h"

namespace hearth::sampling {

struct JsonSchemaNode {
  enum class Kind : uint8_t {
    kAny,  // any JSON value
    kObject,
    kArray,
    kString,
    kNumber,
    kInteger,
    kBoolean,
    kNull,
    kEnum,   // one of enum_values (const is an enum of one)
    kAnyOf,  // one of any_of
  };
  struct Property {
    std::string name;  // raw (unescaped) key
    std::shared_ptr<JsonSchemaNode> schema;
    bool required = false;
  };

  Kind kind = Kind::kAny;
  // kObject
  std::vector<Property> properties;  // [n_properties] in generation order
  // Schema of values under free keys when `properties` is empty; null = any value. Ignored when
  // properties exist (extra keys are never generated).
  std::shared_ptr<JsonSchemaNode> additional_properties;
  bool additional_properties_allowed = true;  // false + no properties: only {}
  // kArray
  std::shared_ptr<JsonSchemaNode> items;  // null = any value
  uint32_t min_items = 0;
  uint32_t max_items = UINT32_MAX;
  // kString
  uint32_t min_length = 0;  // code points
  uint32_t max_length = UINT32_MAX;
  // kEnum: canonical compact JSON texts (e.g. "\"red\"", "42", "null")
  std::vector<std::string> enum_values;
  // kAnyOf
  std::vector<std::shared_ptr<JsonSchemaNode>> any_of;

  // Filled by compile_json_schema (do not set by hand).
  std::vector<std::string> property_keys_json;  // [n_properties] quoted, escaped key text
  std::vector<uint32_t> next_required;          // [n_properties + 1] first required >= i, or n
};

// Limits that keep a hostile schema from costing unbounded memory or time.
inline constexpr int kMaxSchemaDepth = 24;
inline constexpr size_t kMaxObjectProperties = 64;
inline constexpr size_t kMaxEnumValues = 1024;
inline constexpr size_t kMaxSchemaNodes = 4096;
inline constexpr int kMaxWhitespace = 2;

// Validates the tree (depth, sizes, required/properties consistency, satisfiable bounds),
// flattens nested anyOf, merges enum alternatives, drops integer next to number, and fills the
// derived fields. The result is immutable and can be shared by many constraints.
Result<std::shared_ptr<const JsonSchemaNode>> compile_json_schema(JsonSchemaNode root);

// A compiled "any JSON object" schema (OpenAI json_object, Ollama format:"json").
std::shared_ptr<const JsonSchemaNode> json_object_schema();

// JSON string literal (with quotes) of raw text, escaped the way the automaton accepts keys.
std::string json_quote(const std::string& raw);

// The automaton over bytes. Cheap to copy (frames live inline).
class JsonAutomaton {
 public:
  explicit JsonAutomaton(const JsonSchemaNode* root);
  // Feeds one byte; false (and the state unchanged in meaning: the caller must discard it) when
  // the byte cannot come next.
  bool feed(uint8_t byte);
  bool feed(const std::string& bytes);
  // The text so far is a complete valid value (end of generation may come now).
  bool can_finish() const;
  // The value is closed: no byte may follow.
  bool closed() const { return depth_ == 0; }
  void copy_from(const JsonAutomaton& other);
  // Inside a string, not within an escape or a multi-byte character: any "plain" text (valid
  // UTF-8 without quote, backslash or control bytes) of at most *room code points may follow.
  bool in_plain_string(uint32_t* room) const;

  static constexpr int kMaxFrames = 48;

  struct Frame {
    const JsonSchemaNode* node;  // the schema being matched (any-schema for free values)
    uint64_t mask;               // object key candidates; string: lead/escape bookkeeping
    uint32_t a;                  // object: next property; array: item count; string: code points
    uint32_t b;                  // object: chosen property / key pos; literal: lo; number: digits
    uint32_t c;                  // literal: hi; string: utf8 remaining + bounds
    uint16_t pos;                // literal/key match position
    uint8_t kind;                // FrameKind
    uint8_t sub;                 // kind-specific sub-state
    uint8_t ws;                  // whitespace bytes since the last token
  };

 private:
  bool step(uint8_t byte);
  bool start_value(Frame& f, uint8_t byte);
  bool push(const Frame& f);

  int depth_ = 0;
  Frame frames_[kMaxFrames];  // [depth_] innermost last
};

// A model's vocabulary as bytes plus a byte trie over the tokens that can appear in JSON text.
class TokenVocabulary {
 public:
  // token_bytes[id] = raw bytes of the token; special[id] = control/added token (never part of
  // the JSON text). Sizes must match.
  static std::shared_ptr<const TokenVocabulary> build(std::vector<std::string> token_bytes,
                                                      std::vector<bool> special);

  int32_t size() const { return static_cast<int32_t>(bytes_.size()); }
  size_t bytes_size() const { return bytes_.size(); }
  const std::string& bytes(int32_t id) const { return bytes_[id]; }
  bool special(int32_t id) const { return special_[id]; }
  size_t max_token_bytes() const { return max_len_; }

  struct TrieNode {
    uint32_t first_child;  // index of the first child; children are contiguous
    uint32_t n_children;
    uint32_t first_token;  // tokens ending here: token_ids_[first_token, first_token + n_tokens)
    uint32_t n_tokens;
    uint8_t byte;  // label of the edge into this node
  };
  struct Trie {
    std::vector<TrieNode> nodes;  // [n_nodes], 0 = root
    std::vector<int32_t> tokens;  // [n_trie_tokens] grouped by node
  };
  // Every non-special token.
  const std::vector<TrieNode>& trie() const { return all_.nodes; }
  const std::vector<int32_t>& trie_tokens() const { return all_.tokens; }
  const Trie& all_tokens() const { return all_; }
  // Tokens that are not plain string text (quotes, backslashes, control bytes, partial UTF-8):
  // inside a string only these need the automaton.
  const Trie& non_plain_tokens() const { return non_plain_; }
  // Plain tokens sorted by code point count, and those counts.
  const std::vector<int32_t>& plain_tokens() const { return plain_; }
  const std::vector<uint32_t>& plain_code_points() const { return plain_cps_; }

 private:
  static Trie build_trie(const std::vector<std::string>& bytes, std::vector<int32_t> ids);

  std::vector<std::string> bytes_;  // [n_vocab]
  std::vector<bool> special_;       // [n_vocab]
  Trie all_;
  Trie non_plain_;
  std::vector<int32_t> plain_;       // [n_plain] by code point count
  std::vector<uint32_t> plain_cps_;  // [n_plain]
  size_t max_len_ = 0;
};

// The TokenConstraint for JSON output. Before `free_until_token` (>= 0; the thinking close tag)
// every token except end-of-generation is allowed; after it, only tokens whose bytes keep the
// text a valid prefix, end-of-generation only once the value is complete, and after a closed
// value only end-of-generation.
class JsonSchemaConstraint : public TokenConstraint {
 public:
  JsonSchemaConstraint(std::shared_ptr<const JsonSchemaNode> schema,
                       std::shared_ptr<const TokenVocabulary> vocab, std::vector<int32_t> eog_ids,
                       int32_t free_until_token = -1);

  bool allows(int32_t token) const override;
  void accept(int32_t token) override;
  void mask_logits(float* logits, int32_t n_vocab) const override;

  bool constrained() const { return !free_; }
  bool can_finish() const { return state_.can_finish(); }

 private:
  bool is_eog(int32_t token) const;
  void walk(const TokenVocabulary::Trie& trie, uint32_t node, size_t depth,
            std::vector<uint8_t>* allowed) const;

  std::shared_ptr<const JsonSchemaNode> schema_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  std::vector<int32_t> eog_;  // [n_eog] sorted
  int32_t free_until_;
  bool free_;
  bool broken_ = false;  // a token outside the language was accepted (should not happen)
  JsonAutomaton state_;
  mutable std::vector<JsonAutomaton> scratch_;  // [max_token_bytes + 1] DFS states per depth
};

}  // namespace hearth::sampling
