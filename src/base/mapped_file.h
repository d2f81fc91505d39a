// MappedFile: a read-only memory map of a whole file (weights are used zero-copy from it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace hearth {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps `path` read-only. An empty file maps to size 0 with a non-null data pointer.
  static Result<MappedFile> open(const std::string& path);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Hint the kernel to read the mapping ahead (used after load for weights).
  void advise_willneed() const;
  // Drops this process's pages of [p, p + n) (whole pages inside the range only); later reads
  // fault them in again from the file. Used once a tensor has been copied into another layout,
  // so that the copy does not double the resident memory. No-op for addresses outside the map.
  void advise_dontneed(const void* p, size_t n) const;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::string path_;
};

// Reads a whole file into a string.
Result<std::string> read_file(const std::string& path);
// Writes `data` to `path` atomically (temp file in the same folder, fsync, rename).
Status write_file_atomic(const std::string& path, const void* data, size_t size);

}  // namespace hearth
