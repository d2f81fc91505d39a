// cli_hf_fixture DIR: writes a tiny synthetic Qwen3.5 as a Hugging Face folder (config.json,
// safetensors shards, tokenizer files) for the `hearth create` test, with the independent
// GGUF -> HF writer the converter's own tests use.
#include <cstdio>
#include <filesystem>
#include <string>

#include "convert/convert_test_util.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::filesystem::create_directories(dir);
  const std::string gguf = dir + "/../hf_fixture_source.gguf";
  hearth::convert::testing::write_tiny_gguf(gguf, hearth::model::Arch::kQwen35,
                                            hearth::model::FileType::kF32);
  hearth::convert::testing::HfOptions options;
  hearth::convert::testing::gguf_to_hf(gguf, dir, options);
  std::filesystem::remove(gguf);
  if (!std::filesystem::exists(dir + "/config.json")) {
    std::fprintf(stderr, "writing the Hugging Face folder failed\n");
    return 1;
  }
  return 0;
}
