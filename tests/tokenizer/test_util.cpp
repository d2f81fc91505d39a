// Reference-file readers for the tokenizer tests.
#include "test_util.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace hearth::tokenizer::testing {

std::string shared_path(const std::string& relative) {
  return std::string(HEARTH_SHARED_DIR) + "/testdata/tokenizer/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

nlohmann::json read_json(const std::string& relative) {
  return nlohmann::json::parse(read_file(shared_path(relative)));
}

std::vector<VocabCase> read_llama_cases(const std::string& inp_relative) {
  const std::string inp = read_file(shared_path(inp_relative));
  std::string out_relative = inp_relative;
  out_relative.replace(out_relative.size() - 4, 4, ".out");
  const std::string out = read_file(shared_path(out_relative));
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<VocabCase> cases;
  size_t pos = 0;
  while (pos < inp.size()) {
    const size_t next = inp.find(separator, pos);
    if (next == std::string::npos) break;
    cases.push_back(VocabCase{inp.substr(pos, next - pos), {}});
    pos = next + separator.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line) && i < cases.size()) {
    std::istringstream words(line);
    int32_t id;
    while (words >> id) cases[i].ids.push_back(id);
    ++i;
  }
  EXPECT_EQ(i, cases.size()) << "id lines in " << out_relative;
  return cases;
}

std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    if (!s.empty()) s += ' ';
    s += std::to_string(id);
  }
  return s;
}

}  // namespace hearth::tokenizer::testing
