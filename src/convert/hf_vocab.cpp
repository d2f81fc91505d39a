// tokenizer.json -> tokenizer.ggml.* data (qwen35-architecture.md §8.7).
#include "convert/hf_vocab.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/mapped_file.h"

namespace hearth::convert {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Ids above this are rejected when the row count comes from the file itself (a typo in an id
// must not allocate gigabytes).
constexpr int64_t kMaxGrownVocab = 10'000'000;

// A special token in tokenizer_config.json: a plain string or an AddedToken object.
std::string token_content(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return "";
}

}  // namespace

Result<model::VocabData> read_hf_vocab(const std::string& path, const HfVocabOptions& options) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, read_file(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return corrupt_data_error(path + ": not a JSON object");
  const json& m = j["model"];
  if (!m.is_object() || !m.contains("vocab") || !m["vocab"].is_object() || !m.contains("merges") ||
      !m["merges"].is_array()) {
    return corrupt_data_error(path + ": expected a BPE model with vocab and merges");
  }
  const bool grow = options.n_vocab <= 0;
  model::VocabData v;
  v.tokens.resize(grow ? 0 : options.n_vocab);
  v.token_types.assign(v.tokens.size(), 0);  // 0: no token yet
  auto put = [&](int64_t id, const std::string& tok, int32_t type) -> Status {
    const int64_t limit = grow ? kMaxGrownVocab : options.n_vocab;
    if (id < 0 || id >= limit) {
      return corrupt_data_error(str_format(
          "%s: token id %lld is outside %s %lld", path.c_str(), static_cast<long long>(id),
          grow ? "the supported range" : "vocab_size", static_cast<long long>(limit)));
    }
    if (static_cast<int64_t>(v.tokens.size()) <= id) {
      v.tokens.resize(id + 1);
      v.token_types.resize(id + 1, 0);
    }
    v.tokens[id] = tok;
    v.token_types[id] = type;
    return Status::ok();
  };
  for (const auto& [tok, id] : m["vocab"].items()) {
    if (!id.is_number_integer()) return corrupt_data_error(path + ": vocab id is not an integer");
    HEARTH_RETURN_IF_ERROR(put(id.get<int64_t>(), tok, 1));
  }
  for (const auto& mg : m["merges"]) {
    if (mg.is_string()) {
      v.merges.push_back(mg.get<std::string>());
    } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
      v.merges.push_back(mg[0].get<std::string>() + " " + mg[1].get<std::string>());
    } else {
      return corrupt_data_error(path + ": malformed merge entry");
    }
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const auto& a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string()) {
        return corrupt_data_error(path + ": malformed added_tokens entry");
      }
      const bool special = a.value("special", false);
      HEARTH_RETURN_IF_ERROR(
          put(a["id"].get<int64_t>(), a["content"].get<std::string>(), special ? 3 : 4));
    }
  }
  const int64_t n_vocab = static_cast<int64_t>(v.tokens.size());
  // Ids without a token are padding rows, as llama.cpp's converter writes them.
  for (int64_t i = 0; i < n_vocab; ++i) {
    if (v.token_types[i] == 0) {
      v.tokens[i] = "[PAD" + std::to_string(i) + "]";
      v.token_types[i] = 5;
    }
  }
  auto id_of = [&](const std::string& tok) -> int32_t {
    if (tok.empty()) return -1;
    for (int64_t i = n_vocab - 1; i >= 0; --i) {
      if (v.token_types[i] != 1 && v.tokens[i] == tok) return static_cast<int32_t>(i);
    }
    for (int64_t i = 0; i < n_vocab; ++i) {
      if (v.tokens[i] == tok) return static_cast<int32_t>(i);
    }
    return -1;
  };
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  json tcfg = json::object();
  const std::string tcfg_path = (dir / "tokenizer_config.json").string();
  if (fs::exists(tcfg_path, ec)) {
    HEARTH_ASSIGN_OR_RETURN(std::string t, read_file(tcfg_path));
    tcfg = json::parse(t, nullptr, false);
    if (tcfg.is_discarded() || !tcfg.is_object())
      return corrupt_data_error(tcfg_path + ": not a JSON object");
  }
  auto fallback = [&](int32_t id) { return id >= 0 && id < n_vocab ? id : -1; };
  v.eos_id = tcfg.contains("eos_token") ? id_of(token_content(tcfg["eos_token"])) : -1;
  if (v.eos_id < 0) v.eos_id = id_of("<|im_end|>");
  if (v.eos_id < 0) v.eos_id = fallback(options.eos_fallback);
  v.pad_id = tcfg.contains("pad_token") ? id_of(token_content(tcfg["pad_token"])) : -1;
  if (v.pad_id < 0) v.pad_id = id_of("<|endoftext|>");
  v.bos_id = tcfg.contains("bos_token") ? id_of(token_content(tcfg["bos_token"])) : -1;
  if (v.bos_id < 0) v.bos_id = fallback(options.bos_fallback);
  v.pre = "qwen35";
  const std::string jinja = (dir / "chat_template.jinja").string();
  if (fs::exists(jinja, ec)) {
    HEARTH_ASSIGN_OR_RETURN(v.chat_template, read_file(jinja));
  } else if (tcfg.contains("chat_template")) {
    const json& ct = tcfg["chat_template"];
    if (ct.is_string()) {
      v.chat_template = ct.get<std::string>();
    } else if (ct.is_array()) {
      for (const auto& e : ct) {
        if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
            e["template"].is_string()) {
          v.chat_template = e["template"].get<std::string>();
        }
      }
    }
  }
  return v;
}

}  // namespace hearth::convert
