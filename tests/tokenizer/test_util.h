// Shared helpers of the tokenizer tests: reading the reference files in shared/testdata/tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::tokenizer::testing {

std::string shared_path(const std::string& relative);  // under shared/testdata/tokenizer
std::string read_file(const std::string& path);
nlohmann::json read_json(const std::string& relative);

// llama.cpp vocab test files: strings split on "\n__ggml_vocab_test__\n", and one id line each.
struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};
std::vector<VocabCase> read_llama_cases(const std::string& inp_relative);

std::string ids_to_string(const std::vector<int32_t>& ids);

}  // namespace hearth::tokenizer::testing
