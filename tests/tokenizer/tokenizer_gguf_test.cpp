// Tokenizer loaded from GGUF: llama.cpp's vocab GGUF (Qwen2 vocabulary, pre = qwen35) against its
// own .inp/.out files and the HF reference ids; real Qwen3.5 ids when HEARTH_QWEN35_VOCAB names a
// real Qwen3.5 GGUF (or tokenizer.json).
#include <gtest/gtest.h>

#include <cstdlib>

#include "gguf/gguf_file.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace hearth::tokenizer {
namespace {

using testing::ids_to_string;
using testing::read_json;
using testing::read_llama_cases;
using testing::shared_path;

Result<Tokenizer> load_vocab_gguf(const TokenizerOptions& options) {
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file,
                          gguf::GgufFile::open(shared_path("llama.cpp/ggml-vocab-qwen35.gguf")));
  return Tokenizer::from_gguf(file, options);
}

TEST(TokenizerGguf, LoadsLlamaCppVocab) {
  auto t = load_vocab_gguf({});
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(t->vocab_size(), 151936);
  EXPECT_EQ(t->n_merges(), 151387u);
  EXPECT_EQ(t->pre_type(), PreType::kQwen35);
  EXPECT_TRUE(t->normalize_nfc());  // GGUF default: NFC on, like HF
  EXPECT_EQ(t->special_ids().im_start, 151644);
  EXPECT_EQ(t->special_ids().im_end, 151645);
  // This test GGUF carries only 3 added tokens; 151646.. are "[PAD...]" rows (type 4).
  EXPECT_EQ(t->special_ids().think, -1);
  EXPECT_EQ(t->special_ids().eos, 151643);  // tokenizer.ggml.eos_token_id
  EXPECT_EQ(t->added_token_ids(), (std::vector<int32_t>{151643, 151644, 151645}));
  EXPECT_TRUE(t->is_eog(151645));
  EXPECT_TRUE(t->is_eog(151643));
  // Padding rows ("[PAD151669]" ...) are not matched as added tokens.
  for (int32_t id : t->added_token_ids()) EXPECT_LT(id, 151669) << t->token_text(id);
  auto ids = t->encode("[PAD151700]", true);
  ASSERT_TRUE(ids.is_ok());
  for (int32_t id : ids.value()) EXPECT_LT(id, 151643);
  // from_file sniffs the GGUF magic.
  auto by_file = Tokenizer::from_file(shared_path("llama.cpp/ggml-vocab-qwen35.gguf"));
  ASSERT_TRUE(by_file.is_ok()) << by_file.status().to_string();
  EXPECT_EQ(by_file->vocab_size(), 151936);
}

TEST(TokenizerGguf, MatchesLlamaCppOutputsWithoutNfc) {
  TokenizerOptions options;
  options.normalize_nfc = false;  // llama.cpp applies no normalisation
  auto qwen35 = load_vocab_gguf(options);
  ASSERT_TRUE(qwen35.is_ok()) << qwen35.status().to_string();
  const auto cases35 = read_llama_cases("llama.cpp/ggml-vocab-qwen35.gguf.inp");
  ASSERT_EQ(cases35.size(), 50u);
  for (size_t i = 0; i < cases35.size(); ++i) {
    auto ids = qwen35->encode(cases35[i].text, /*parse_special=*/false);
    ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
    EXPECT_EQ(ids_to_string(ids.value()), ids_to_string(cases35[i].ids)) << "qwen35 case " << i;
  }
  options.pre_type_override = PreType::kQwen2;
  auto qwen2 = load_vocab_gguf(options);
  ASSERT_TRUE(qwen2.is_ok());
  EXPECT_EQ(qwen2->pre_type(), PreType::kQwen2);
  const auto cases2 = read_llama_cases("llama.cpp/ggml-vocab-qwen2.gguf.inp");
  ASSERT_EQ(cases2.size(), 46u);
  for (size_t i = 0; i < cases2.size(); ++i) {
    auto ids = qwen2->encode(cases2[i].text, false);
    ASSERT_TRUE(ids.is_ok());
    EXPECT_EQ(ids_to_string(ids.value()), ids_to_string(cases2[i].ids)) << "qwen2 case " << i;
  }
}

TEST(TokenizerGguf, MatchesHfQwen35PipelineOnSameVocab) {
  auto t = load_vocab_gguf({});
  ASSERT_TRUE(t.is_ok());
  const nlohmann::json doc = read_json("qwen3/hf_reference_vectors.json");
  int compared = 0;
  for (const auto& c : doc["cases"]) {
    const std::string text = c["text"];
    // Skip texts using added tokens this GGUF lacks (<think>, <|vision_start|>, ...).
    bool uses_missing = false;
    for (int32_t id : c["ids_qwen3_tokenizer"].get<std::vector<int32_t>>()) {
      uses_missing |= id > 151645;
    }
    if (uses_missing) continue;
    ++compared;
    SCOPED_TRACE(c["source"].get<std::string>() + " #" + std::to_string(c["index"].get<int>()));
    t->set_normalize_nfc(true);
    EXPECT_EQ(ids_to_string(t->encode(text, true).value()),
              ids_to_string(c["ids_qwen3_vocab_qwen35_regex_nfc"].get<std::vector<int32_t>>()));
    t->set_normalize_nfc(false);
    EXPECT_EQ(ids_to_string(t->encode(text, true).value()),
              ids_to_string(c["ids_qwen3_vocab_qwen35_regex_no_nfc"].get<std::vector<int32_t>>()));
  }
  EXPECT_GE(compared, 60);
}

// Real Qwen3.5 ids: needs the real vocabulary (any Qwen3.5 GGUF, or its tokenizer.json).
TEST(TokenizerQwen35, RealIdsWhenVocabularyAvailable) {
  const char* path = std::getenv("HEARTH_QWEN35_VOCAB");
  if (path == nullptr || *path == '\0') {
    GTEST_SKIP() << "no real Qwen3.5 vocabulary: set HEARTH_QWEN35_VOCAB to a Qwen3.5 GGUF or "
                    "tokenizer.json to check qwen3.5/token_vectors_*.json";
  }
  auto t = Tokenizer::from_file(path);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(t->special_ids().endoftext, 248044);
  EXPECT_EQ(t->special_ids().im_start, 248045);
  EXPECT_EQ(t->special_ids().im_end, 248046);
  EXPECT_EQ(t->special_ids().think, 248068);
  const nlohmann::json hf = read_json("qwen3.5/token_vectors_transformers.json");
  for (const auto& c : hf["cases"]) {
    auto ids = t->encode(c["text"].get<std::string>(), true);
    ASSERT_TRUE(ids.is_ok());
    EXPECT_EQ(ids_to_string(ids.value()), ids_to_string(c["ids"].get<std::vector<int32_t>>()));
  }
  const nlohmann::json oracle = read_json("qwen3.5/token_vectors_qwen3.8_oracle.json");
  for (const auto& c : oracle["text_vectors"]) {
    auto ids = t->encode(c["text"].get<std::string>(), true);
    ASSERT_TRUE(ids.is_ok());
    EXPECT_EQ(ids_to_string(ids.value()), ids_to_string(c["token_ids"].get<std::vector<int32_t>>()))
        << c["name"];
  }
  for (const auto& c : oracle["chat_vectors_tokenization_only"]) {
    auto ids = t->encode(c["rendered_text"].get<std::string>(), true);
    ASSERT_TRUE(ids.is_ok());
    EXPECT_EQ(ids_to_string(ids.value()), ids_to_string(c["token_ids"].get<std::vector<int32_t>>()))
        << c["name"];
  }
  for (const auto& a : oracle["tokenizer_contract"]["added_tokens"]) {
    EXPECT_EQ(t->token_id(a["content"].get<std::string>()).value_or(-1), a["id"].get<int32_t>());
  }
}

}  // namespace
}  // namespace hearth::tokenizer
