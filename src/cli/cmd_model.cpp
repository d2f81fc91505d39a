// Subcommands of the model family: `make-test-model` (synthetic Qwen3.5 GGUFs) and `logits`
// (raw float32 logits of a prompt, the contract external checks use). quantize / convert / bench
// are not implemented yet.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/mapped_file.h"
#include "base/thread_pool.h"
#include "chat/chat_template.h"
#include "cli/commands.h"
#include "convert/hf_vocab.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {

namespace {

namespace fs = std::filesystem;
using model::VocabData;

// Vocabulary copied from another GGUF's tokenizer.ggml.* keys.
Result<VocabData> vocab_from_gguf(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::open(path));
  VocabData v;
  HEARTH_ASSIGN_OR_RETURN(v.tokens, f.get_string_array("tokenizer.ggml.tokens"));
  if (f.find("tokenizer.ggml.token_type")) {
    HEARTH_ASSIGN_OR_RETURN(std::vector<int64_t> types,
                            f.get_int_array("tokenizer.ggml.token_type"));
    v.token_types.assign(types.begin(), types.end());
  }
  if (f.find("tokenizer.ggml.merges")) {
    HEARTH_ASSIGN_OR_RETURN(v.merges, f.get_string_array("tokenizer.ggml.merges"));
  }
  auto id = [&](const char* key) -> int32_t {
    auto r = f.get_u64(key);
    return r.is_ok() ? static_cast<int32_t>(*r) : -1;
  };
  v.bos_id = id("tokenizer.ggml.bos_token_id");
  v.eos_id = id("tokenizer.ggml.eos_token_id");
  v.pad_id = id("tokenizer.ggml.padding_token_id");
  if (auto pre = f.get_string("tokenizer.ggml.pre"); pre.is_ok()) v.pre = *pre;
  if (auto tmpl = f.get_string("tokenizer.chat_template"); tmpl.is_ok()) v.chat_template = *tmpl;
  return v;
}

// The default vocabulary: the Qwen3 tokenizer.json of the shared test data, searched via
// $HEARTH_SHARED_DIR, the working directory and the binary's location.
std::string default_vocab_path() {
  const fs::path rel = fs::path("testdata") / "tokenizer" / "qwen3" / "tokenizer.json";
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("HEARTH_SHARED_DIR")) roots.emplace_back(env);
  roots.emplace_back("shared");
  roots.emplace_back("../shared");
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      roots.push_back(p / "shared");
      roots.push_back(p.parent_path() / "shared");
    }
  }
  for (const auto& r : roots) {
    if (fs::exists(r / rel, ec)) return (r / rel).string();
  }
  return "";
}

Result<std::vector<int32_t>> parse_token_list(const std::string& s) {
  std::vector<int32_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v > INT32_MAX) {
      return invalid_argument_error("bad token id '" + item + "' in --tokens");
    }
    out.push_back(static_cast<int32_t>(v));
  }
  if (out.empty()) return invalid_argument_error("--tokens is empty");
  return out;
}

struct MakeArgs {
  std::string arch = "qwen35", size = "tiny", type = "f32", out, vocab;
  uint64_t seed = 1;
  int64_t n_vocab = 0;
  int threads = 0;
};

Status make_test_model(const MakeArgs& a) {
  model::SyntheticOptions opt;
  if (a.arch == "qwen35") {
    opt.arch = model::Arch::kQwen35;
  } else if (a.arch == "qwen35moe") {
    opt.arch = model::Arch::kQwen35Moe;
  } else {
    return invalid_argument_error("unknown --arch '" + a.arch + "' (qwen35, qwen35moe)");
  }
  auto ft = model::file_type_from_name(a.type);
  if (!ft) return invalid_argument_error("unknown --type '" + a.type + "'");
  opt.type = *ft;
  opt.size = a.size;
  opt.seed = a.seed;
  opt.n_vocab = a.n_vocab;
  VocabData vocab;
  std::string vpath = a.vocab.empty() ? default_vocab_path() : a.vocab;
  if (vpath == "synthetic") {
    vocab = model::make_synthetic_vocab();
  } else if (vpath.empty()) {
    LOG_WARN(
        "Qwen3 tokenizer.json not found (set HEARTH_SHARED_DIR or pass --vocab); using a "
        "small synthetic vocabulary");
    vocab = model::make_synthetic_vocab();
  } else {
    HEARTH_ASSIGN_OR_RETURN(MappedFile mf, MappedFile::open(vpath));
    const bool is_gguf = mf.size() >= 4 && std::memcmp(mf.data(), "GGUF", 4) == 0;
    if (is_gguf) {
      HEARTH_ASSIGN_OR_RETURN(vocab, vocab_from_gguf(vpath));
    } else {
      HEARTH_ASSIGN_OR_RETURN(vocab, convert::read_hf_vocab(vpath));
      // A Qwen3.5-shaped model carries the Qwen3.5 template, as real Qwen3.5 GGUFs do (the
      // default vocabulary is Qwen3's, whose tokenizer_config holds Qwen3's template).
      vocab.chat_template = std::string(chat::qwen35_template_text());
    }
    vocab.pre = "qwen35";
  }
  if (vocab.chat_template.empty()) vocab.chat_template = std::string(chat::qwen35_template_text());
  ThreadPool pool(a.threads);
  gguf::GgufWriter writer;
  HEARTH_RETURN_IF_ERROR(model::build_synthetic_model(opt, vocab, writer, pool));
  HEARTH_RETURN_IF_ERROR(writer.write_file(a.out));
  std::printf("wrote %s (%s %s %s, seed %llu)\n", a.out.c_str(), a.arch.c_str(), a.size.c_str(),
              model::file_type_name(opt.type), static_cast<unsigned long long>(a.seed));
  return Status::ok();
}

struct LogitsArgs {
  std::string model, tokens, prompt, out, kv = "f16";
  int threads = 0;
  bool decode = false;
};

Status run_logits(const LogitsArgs& a) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> m, model::Model::load(a.model));
  std::vector<int32_t> ids;
  if (!a.tokens.empty()) {
    HEARTH_ASSIGN_OR_RETURN(ids, parse_token_list(a.tokens));
  } else {
    HEARTH_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(m->file()));
    HEARTH_ASSIGN_OR_RETURN(ids, tok.encode(a.prompt, /*parse_special=*/true));
    if (ids.empty()) return invalid_argument_error("--prompt encodes to no tokens");
  }
  const int64_t V = m->n_vocab(), T = static_cast<int64_t>(ids.size());
  std::vector<float> logits(static_cast<size_t>(T * V));
  ThreadPool pool(a.threads);
  if (a.kv != "f16" && a.kv != "q8_0") {
    return invalid_argument_error("unknown --kv '" + a.kv + "' (f16, q8_0)");
  }
  model::SequenceState state =
      m->new_sequence(a.kv == "q8_0" ? model::KvType::kQ8_0 : model::KvType::kF16);
  if (a.decode) {
    for (int64_t t = 0; t < T; ++t) {
      model::BatchEntry e{&state, std::span<const int32_t>(&ids[t], 1), model::LogitsMode::kLast,
                          logits.data() + t * V};
      HEARTH_RETURN_IF_ERROR(m->forward(std::span<model::BatchEntry>(&e, 1), pool));
    }
  } else {
    model::BatchEntry e{&state, ids, model::LogitsMode::kAll, logits.data()};
    HEARTH_RETURN_IF_ERROR(m->forward(std::span<model::BatchEntry>(&e, 1), pool));
  }
  HEARTH_RETURN_IF_ERROR(write_file_atomic(a.out, logits.data(), logits.size() * sizeof(float)));
  std::fprintf(stderr, "wrote %lld x %lld float32 logits to %s\n", static_cast<long long>(T),
               static_cast<long long>(V), a.out.c_str());
  return Status::ok();
}

}  // namespace

void register_model_commands(CLI::App& app) {
  auto make = std::make_shared<MakeArgs>();
  CLI::App* mk = app.add_subcommand("make-test-model", "write a synthetic Qwen3.5 GGUF");
  mk->add_option("--arch", make->arch, "qwen35 | qwen35moe")->capture_default_str();
  mk->add_option("--size", make->size, "tiny | 0.8b | 2b | 4b | 9b | 27b | 35b-a3b")
      ->capture_default_str();
  mk->add_option("--type", make->type, "f32 | f16 | bf16 | q8_0 | q4_0 | q4_k_m | q6_k")
      ->capture_default_str();
  mk->add_option("--seed", make->seed, "random seed")->capture_default_str();
  mk->add_option("--out", make->out, "output GGUF")->required();
  mk->add_option("--vocab", make->vocab,
                 "tokenizer.json or GGUF to take the vocabulary from, or 'synthetic' "
                 "(default: the shared Qwen3 tokenizer.json)");
  mk->add_option("--n-vocab", make->n_vocab,
                 "embedding rows (default: published 248320; tiny: "
                 "vocabulary size)");
  mk->add_option("--threads", make->threads, "threads (default: physical cores)");
  mk->callback([make] {
    Status s = make_test_model(*make);
    if (!s.is_ok()) report_error(s);
  });

  auto lg = std::make_shared<LogitsArgs>();
  CLI::App* lc = app.add_subcommand(
      "logits", "write raw little-endian float32 logits [n_tokens][n_vocab] of a prompt");
  lc->add_option("--model", lg->model, "model GGUF")->required();
  auto* tok_opt = lc->add_option("--tokens", lg->tokens, "comma-separated token ids");
  auto* prompt_opt =
      lc->add_option("--prompt", lg->prompt, "text (tokenised with the model's vocabulary)");
  tok_opt->excludes(prompt_opt);
  lc->add_option("--out", lg->out, "output file")->required();
  lc->add_option("--threads", lg->threads, "threads (default: physical cores)");
  lc->add_option("--kv", lg->kv, "KV cache type: f16 | q8_0")->capture_default_str();
  lc->add_flag("--decode", lg->decode, "feed the tokens one at a time instead of one prefill");
  lc->callback([lg, tok_opt, prompt_opt] {
    if (tok_opt->count() == 0 && prompt_opt->count() == 0) {
      report_error(invalid_argument_error("logits needs --tokens or --prompt"));
      return;
    }
    Status s = run_logits(*lg);
    if (!s.is_ok()) report_error(s);
  });
}

}  // namespace hearth::cli
