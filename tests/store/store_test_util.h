// Helpers shared by the store tests: a fresh temp store root per test and tiny GGUF files.
#pragma once

#include <cstdint>
#include <string>

namespace hearth::store::testing {

// A new empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes a small valid GGUF (general.architecture = arch, a few qwen35 keys and one f32 tensor
// of n_floats values derived from seed) and returns its bytes.
std::string tiny_gguf_bytes(const std::string& dir, const std::string& arch, uint32_t seed,
                            int n_floats = 256);
// Same, written to dir/file_name; returns the path.
std::string write_tiny_gguf(const std::string& dir, const std::string& file_name,
                            const std::string& arch, uint32_t seed, int n_floats = 256);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
// Regular files directly inside dir (0 if it does not exist).
int count_files(const std::string& dir);
// Regular files anywhere below dir.
int count_files_recursive(const std::string& dir);

}  // namespace hearth::store::testing
