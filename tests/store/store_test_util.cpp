// Temp directories and tiny GGUF fixtures for the store tests.
#include "store/store_test_util.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "gguf/gguf_writer.h"

namespace hearth::store::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string templ = (fs::temp_directory_path() / "hearth-store-test-XXXXXX").string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  char* made = ::mkdtemp(buf.data());
  EXPECT_NE(made, nullptr);
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

std::string write_tiny_gguf(const std::string& dir, const std::string& file_name,
                            const std::string& arch, uint32_t seed, int n_floats) {
  gguf::GgufWriter writer;
  writer.set_string("general.architecture", arch);
  writer.set_string("general.name", "tiny test model");
  writer.set_u32("general.file_type", 0);  // F32
  writer.set_u32(arch + ".context_length", 4096);
  writer.set_u32(arch + ".embedding_length", 64);
  writer.set_u32(arch + ".block_count", 4);
  std::vector<float> data(static_cast<size_t>(n_floats));
  uint32_t x = seed * 2654435761u + 1;
  for (float& v : data) {
    x = x * 1664525u + 1013904223u;
    v = static_cast<float>(x >> 8) / 16777216.0f - 0.5f;
  }
  Status s = writer.add_tensor("token_embd.weight", DType::kF32, {n_floats / 4, 4}, data.data(),
                               data.size() * sizeof(float));
  EXPECT_TRUE(s.is_ok()) << s.message();
  std::string path = dir + "/" + file_name;
  s = writer.write_file(path);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return path;
}

std::string tiny_gguf_bytes(const std::string& dir, const std::string& arch, uint32_t seed,
                            int n_floats) {
  std::string path = write_tiny_gguf(dir, "fixture-tmp.gguf", arch, seed, n_floats);
  std::string bytes = read_file(path);
  fs::remove(path);
  return bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

int count_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

int count_files_recursive(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

}  // namespace hearth::store::testing
