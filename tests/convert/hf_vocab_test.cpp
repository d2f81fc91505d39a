// tokenizer.json -> VocabData (convert/hf_vocab.h): ids, padding rows, token types, merges in
// both JSON forms, special ids from tokenizer_config.json / defaults / config fallbacks, the chat
// template sources, and clear errors for malformed files.
#include "convert/hf_vocab.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "convert_test_util.h"

namespace hearth::convert {
namespace {

using testing::TempDir;

// Ids 0-2 are BPE tokens, 3 is a gap, 4-5 are added special tokens and 6 an added normal one.
constexpr const char* kTokenizerJson = R"({
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
            "merges": ["a b", ["ab", "b"]]},
  "added_tokens": [
    {"id": 4, "content": "<|endoftext|>", "special": true},
    {"id": 5, "content": "<|im_end|>", "special": true},
    {"id": 6, "content": "<tool>", "special": false}
  ]
})";

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

TEST(HfVocab, GrowsToTheHighestIdAndPadsGaps) {
  TempDir dir;
  write(dir.file("tokenizer.json"), kTokenizerJson);
  auto v = read_hf_vocab(dir.file("tokenizer.json"));
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  ASSERT_EQ(v->tokens.size(), 7u);
  EXPECT_EQ(v->tokens[2], "ab");
  EXPECT_EQ(v->tokens[3], "[PAD3]");
  EXPECT_EQ(v->token_types, (std::vector<int32_t>{1, 1, 1, 5, 3, 3, 4}));
  EXPECT_EQ(v->merges, (std::vector<std::string>{"a b", "ab b"}));
  // No tokenizer_config.json: the Qwen defaults, and no BOS.
  EXPECT_EQ(v->eos_id, 5);
  EXPECT_EQ(v->pad_id, 4);
  EXPECT_EQ(v->bos_id, -1);
  EXPECT_EQ(v->pre, "qwen35");
  EXPECT_TRUE(v->chat_template.empty());
}

TEST(HfVocab, FixedRowCountPadsTheTailAndRejectsLargerIds) {
  TempDir dir;
  write(dir.file("tokenizer.json"), kTokenizerJson);
  HfVocabOptions options;
  options.n_vocab = 9;
  auto v = read_hf_vocab(dir.file("tokenizer.json"), options);
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  ASSERT_EQ(v->tokens.size(), 9u);
  EXPECT_EQ(v->tokens[8], "[PAD8]");
  EXPECT_EQ(v->token_types[8], 5);

  options.n_vocab = 6;
  auto small = read_hf_vocab(dir.file("tokenizer.json"), options);
  ASSERT_FALSE(small.is_ok());
  EXPECT_NE(small.status().to_string().find("token id 6 is outside vocab_size 6"),
            std::string::npos)
      << small.status().to_string();
}

TEST(HfVocab, SpecialIdsFromTokenizerConfigThenFallbacks) {
  TempDir dir;
  write(dir.file("tokenizer.json"), kTokenizerJson);
  // eos as an AddedToken object, bos as a string, pad null (-> the <|endoftext|> default).
  write(dir.file("tokenizer_config.json"),
        R"({"eos_token": {"content": "<tool>"}, "bos_token": "b", "pad_token": null,
            "chat_template": [{"name": "tool_use", "template": "T"},
                              {"name": "default", "template": "D"}]})");
  auto v = read_hf_vocab(dir.file("tokenizer.json"));
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(v->eos_id, 6);
  EXPECT_EQ(v->bos_id, 1);
  EXPECT_EQ(v->pad_id, 4);
  EXPECT_EQ(v->chat_template, "D");

  // config.json's ids are used only where nothing else names a token.
  write(dir.file("tokenizer_config.json"), R"({"chat_template": "S"})");
  HfVocabOptions options;
  options.bos_fallback = 0;
  options.eos_fallback = 2;
  v = read_hf_vocab(dir.file("tokenizer.json"), options);
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(v->bos_id, 0);
  EXPECT_EQ(v->eos_id, 5);  // <|im_end|> exists
  EXPECT_EQ(v->chat_template, "S");

  // chat_template.jinja wins over tokenizer_config.json.
  write(dir.file("chat_template.jinja"), "J");
  v = read_hf_vocab(dir.file("tokenizer.json"));
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(v->chat_template, "J");
}

TEST(HfVocab, MalformedFilesFailWithTheirPath) {
  TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  EXPECT_FALSE(read_hf_vocab(path).is_ok());  // missing
  const char* bad[] = {
      "[1, 2]",
      R"({"model": {"vocab": {"a": 0}}})",
      R"({"model": {"vocab": {"a": "x"}, "merges": []}})",
      R"({"model": {"vocab": {"a": -1}, "merges": []}})",
      R"({"model": {"vocab": {"a": 0}, "merges": [7]}})",
      R"({"model": {"vocab": {"a": 0}, "merges": []}, "added_tokens": [{"content": "x"}]})",
      R"({"model": {"vocab": {"a": 99999999}, "merges": []}})",
  };
  for (const char* text : bad) {
    write(path, text);
    auto v = read_hf_vocab(path);
    ASSERT_FALSE(v.is_ok()) << text;
    EXPECT_NE(v.status().to_string().find(path), std::string::npos) << v.status().to_string();
  }
  write(path, kTokenizerJson);
  write(dir.file("tokenizer_config.json"), "not json");
  EXPECT_FALSE(read_hf_vocab(path).is_ok());
}

}  // namespace
}  // namespace hearth::convert
