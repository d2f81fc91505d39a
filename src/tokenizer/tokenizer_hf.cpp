// Loader for Hugging Face tokenizer.json files (byte-level BPE with a Split regex pre-tokenizer).
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "tokenizer/tokenizer.h"

namespace hearth::tokenizer {
namespace {

using json = nlohmann::json;

// Finds the Split regex in a pre_tokenizer (a Split, or a Sequence containing one) and checks that
// a ByteLevel step follows without its own GPT-2 regex.
Status read_pre_tokenizer(const json& pre, std::string* regex) {
  if (!pre.is_object()) return unsupported_error("tokenizer.json has no pre_tokenizer");
  std::vector<const json*> steps;
  if (pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array()) {
    for (const json& step : pre["pretokenizers"]) steps.push_back(&step);
  } else {
    steps.push_back(&pre);
  }
  bool byte_level = false;
  for (const json* step : steps) {
    if (!step->is_object()) continue;
    const std::string type = step->value("type", "");
    if (type == "Split") {
      const json& pattern = step->value("pattern", json::object());
      if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string()) {
        return unsupported_error("tokenizer.json Split pre-tokenizer without a Regex pattern");
      }
      if (step->value("behavior", "Isolated") != "Isolated" || step->value("invert", false)) {
        return unsupported_error(
            "tokenizer.json Split pre-tokenizer must be Isolated, not inverted");
      }
      *regex = pattern["Regex"].get<std::string>();
    } else if (type == "ByteLevel") {
      if (step->value("use_regex", true) && regex->empty()) {
        return unsupported_error(
            "tokenizer.json ByteLevel pre-tokenizer with its own GPT-2 regex is not supported");
      }
      if (step->value("add_prefix_space", false)) {
        return unsupported_error("tokenizer.json ByteLevel add_prefix_space=true is not supported");
      }
      byte_level = true;
    } else {
      return unsupported_error("tokenizer.json pre-tokenizer step '" + type + "' is not supported");
    }
  }
  if (regex->empty() || !byte_level) {
    return unsupported_error("tokenizer.json pre_tokenizer must be Split(regex) + ByteLevel");
  }
  return Status::ok();
}

Status read_normalizer(const json& normalizer, bool* nfc) {
  *nfc = false;
  if (normalizer.is_null()) return Status::ok();
  std::vector<const json*> steps;
  if (normalizer.value("type", "") == "Sequence" && normalizer.contains("normalizers")) {
    for (const json& step : normalizer["normalizers"]) steps.push_back(&step);
  } else {
    steps.push_back(&normalizer);
  }
  for (const json* step : steps) {
    const std::string type = step->is_object() ? step->value("type", "") : "";
    if (type == "NFC") {
      *nfc = true;
    } else {
      return unsupported_error("tokenizer.json normalizer '" + type + "' is not supported");
    }
  }
  return Status::ok();
}

// SAX handler that builds a DOM for everything except model.vocab and model.merges, which it
// streams straight into vectors: a 250K-entry vocab as a DOM costs ~1 s and ~100 MB of nodes.
class TokenizerJsonSax : public nlohmann::json_sax<json> {
 public:
  json root;
  std::vector<std::pair<std::string, int64_t>> vocab;  // [n_vocab] (token, id)
  std::vector<std::string> merges;                     // [n_merges] "left right"
  std::string error;

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override { return integer(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return v > static_cast<number_unsigned_t>(INT64_MAX) ? integer(-1)
                                                         : integer(static_cast<int64_t>(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override {
    if (mode_ == Mode::kMerges) {
      if (merge_level_ == 0) {
        merges.push_back(std::move(v));
      } else {
        pair_.push_back(std::move(v));
      }
      return true;
    }
    if (mode_ == Mode::kVocab) return fail("tokenizer.json vocab value is not an integer id");
    return value(json(std::move(v)));
  }
  bool binary(binary_t&) override { return fail("unexpected binary value"); }
  bool start_object(std::size_t) override {
    if (mode_ != Mode::kNone) return fail("unexpected object inside model.vocab/merges");
    if (at_model() && key_ == "vocab") {
      (*stack_.back())[key_] = json::object();  // placeholder: entries go to `vocab`
      mode_ = Mode::kVocab;
      return true;
    }
    return push(json::object());
  }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kNone;
      return true;
    }
    stack_.pop_back();
    path_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::kMerges) {
      if (merge_level_ != 0) return fail("tokenizer.json merge nested too deep");
      merge_level_ = 1;
      pair_.clear();
      return true;
    }
    if (mode_ == Mode::kVocab) return fail("tokenizer.json vocab value is not an integer id");
    if (at_model() && key_ == "merges") {
      (*stack_.back())[key_] = json::array();  // placeholder: entries go to `merges`
      mode_ = Mode::kMerges;
      merge_level_ = 0;
      return true;
    }
    return push(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::kMerges) {
      if (merge_level_ == 1) {
        if (pair_.size() != 2) return fail("tokenizer.json merge pair does not have 2 parts");
        merges.push_back(pair_[0] + " " + pair_[1]);
        merge_level_ = 0;
      } else {
        mode_ = Mode::kNone;
      }
      return true;
    }
    stack_.pop_back();
    path_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    return fail(str_format("tokenizer.json is not valid JSON (byte %zu): %s", position, ex.what()));
  }

 private:
  enum class Mode { kNone, kVocab, kMerges };

  bool fail(const std::string& message) {
    if (error.empty()) error = message;
    return false;
  }
  // Directly inside the top-level "model" object.
  bool at_model() const { return path_.size() == 2 && path_[1] == "model"; }
  bool integer(int64_t v) {
    if (mode_ == Mode::kVocab) {
      vocab.emplace_back(key_, v);
      return true;
    }
    if (mode_ == Mode::kMerges) return fail("tokenizer.json merge is not a string");
    return value(json(v));
  }
  bool value(json v) {
    if (mode_ != Mode::kNone) return fail("unexpected value inside model.vocab/merges");
    if (stack_.empty()) {
      root = std::move(v);
    } else if (stack_.back()->is_object()) {
      (*stack_.back())[key_] = std::move(v);
    } else {
      stack_.back()->push_back(std::move(v));
    }
    return true;
  }
  bool push(json container) {
    json* slot = nullptr;
    std::string name;
    if (stack_.empty()) {
      root = std::move(container);
      slot = &root;
    } else if (stack_.back()->is_object()) {
      slot = &((*stack_.back())[key_] = std::move(container));
      name = key_;
    } else {
      stack_.back()->push_back(std::move(container));
      slot = &stack_.back()->back();
    }
    stack_.push_back(slot);  // stable: siblings are only added after this one closes
    path_.push_back(std::move(name));
    return true;
  }

  std::vector<json*> stack_;       // open containers, outermost first
  std::vector<std::string> path_;  // key of each open container ("" for root/array items)
  std::string key_;
  Mode mode_ = Mode::kNone;
  int merge_level_ = 0;
  std::vector<std::string> pair_;
};

Result<Tokenizer> parse_unchecked(const std::string& content, const TokenizerOptions& options) {
  TokenizerJsonSax sax;
  const bool parsed = json::sax_parse(content, &sax);
  if (!parsed || !sax.error.empty()) {
    return invalid_argument_error(sax.error.empty() ? "tokenizer.json is not valid JSON"
                                                    : sax.error);
  }
  json& doc = sax.root;
  if (!doc.is_object()) return invalid_argument_error("tokenizer.json is not a JSON object");
  if (!doc.contains("model") || !doc["model"].is_object()) {
    return invalid_argument_error("tokenizer.json has no model object");
  }
  const json& model = doc["model"];
  if (model.value("type", "") != "BPE") {
    return unsupported_error("tokenizer.json model type '" + model.value("type", "") +
                             "' is not supported (only BPE)");
  }
  if (model.value("byte_fallback", false)) {
    return unsupported_error("tokenizer.json BPE with byte_fallback is not supported");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object() || !model.contains("merges") ||
      !model["merges"].is_array()) {
    return invalid_argument_error("tokenizer.json model lacks vocab or merges");
  }

  VocabSpec spec;
  HEARTH_RETURN_IF_ERROR(read_normalizer(doc.value("normalizer", json()), &spec.normalize_nfc));
  std::string regex;
  HEARTH_RETURN_IF_ERROR(read_pre_tokenizer(doc.value("pre_tokenizer", json()), &regex));
  if (regex == pre_type_regex(PreType::kQwen35)) {
    spec.pre_type = PreType::kQwen35;
  } else if (regex == pre_type_regex(PreType::kQwen2)) {
    spec.pre_type = PreType::kQwen2;
  } else {
    spec.pre_type = PreType::kCustom;
    spec.custom_regex = regex;
  }

  // Vocabulary: ids may have gaps and added tokens may extend it.
  int64_t max_id = -1;
  for (const auto& [text, id] : sax.vocab) {
    if (id < 0 || id >= INT32_MAX) {
      return invalid_argument_error("tokenizer.json vocab id of '" + text + "' is invalid");
    }
    max_id = std::max(max_id, id);
  }
  const json added = doc.value("added_tokens", json::array());
  for (const json& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
        !a.contains("content") || !a["content"].is_string() || a["id"].get<int64_t>() < 0 ||
        a["id"].get<int64_t>() >= INT32_MAX) {
      return invalid_argument_error("tokenizer.json has a malformed added_tokens entry");
    }
    max_id = std::max(max_id, a["id"].get<int64_t>());
  }
  spec.tokens.assign(static_cast<size_t>(max_id + 1), std::string());
  spec.kinds.assign(static_cast<size_t>(max_id + 1), TokenKind::kUnused);
  for (auto& [text, id] : sax.vocab) {
    spec.tokens[static_cast<size_t>(id)] = std::move(text);
    spec.kinds[static_cast<size_t>(id)] = TokenKind::kNormal;
  }
  for (const json& a : added) {
    const size_t id = static_cast<size_t>(a["id"].get<int64_t>());
    spec.tokens[id] = a["content"].get<std::string>();
    spec.kinds[id] = a.value("special", false) ? TokenKind::kControl : TokenKind::kUserDefined;
    if (a.value("lstrip", false) || a.value("rstrip", false) || a.value("single_word", false)) {
      // Qwen's added tokens never set these; matching here is always exact and in place.
      LOG_WARN(
          "tokenizer.json added token '%s' sets lstrip/rstrip/single_word, which hearth "
          "ignores",
          spec.tokens[id].c_str());
    }
  }

  spec.merges = std::move(sax.merges);
  return Tokenizer::from_vocab(std::move(spec), options);
}

// nlohmann throws on type mismatches deep inside; turn any of those into a Status here.
Result<Tokenizer> parse(const std::string& content, const TokenizerOptions& options) {
  try {
    return parse_unchecked(content, options);
  } catch (const std::exception& e) {
    return invalid_argument_error(std::string("malformed tokenizer.json: ") + e.what());
  }
}

}  // namespace

Result<Tokenizer> Tokenizer::from_hf_json(const std::string& path_or_content,
                                          const TokenizerOptions& options) {
  const size_t first = path_or_content.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && path_or_content[first] == '{') {
    return parse(path_or_content, options);
  }
  std::ifstream in(path_or_content, std::ios::binary);
  if (!in) return not_found_error("cannot open tokenizer file '" + path_or_content + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return io_error("error reading tokenizer file '" + path_or_content + "'");
  Result<Tokenizer> result = parse(buffer.str(), options);
  if (!result.is_ok()) return result.status().with_context(path_or_content);
  return result;
}

}  // namespace hearth::tokenizer
