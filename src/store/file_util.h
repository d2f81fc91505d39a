// Small POSIX file helpers shared by the store's .cpp files: full writes, fsync of files and
// directories, temp files inside the store, reading a small file whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "base/status.h"

namespace hearth::store {

// Writes all n bytes (retrying short writes); ENOSPC/EDQUOT become kResourceExhausted.
Status write_all(int fd, const void* data, size_t n, const std::string& path_for_errors);
Status fsync_fd(int fd, const std::string& path_for_errors);
// fsyncs a directory so a rename inside it is durable.
Status fsync_dir(const std::string& dir);
// Creates a unique file in `dir` (mkstemp); returns the fd and sets *path.
Result<int> create_temp_file(const std::string& dir, const std::string& prefix, std::string* path);
Result<std::string> read_small_file(const std::string& path, size_t max_bytes);
bool file_exists(const std::string& path);

// Opens a GGUF and checks it is a Qwen3.5 model hearth runs; returns (architecture,
// file type name such as "Q4_K_M"). Other architectures give kUnsupported.
Result<std::pair<std::string, std::string>> check_runnable_gguf(const std::string& path);

}  // namespace hearth::store
