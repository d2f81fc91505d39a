// Streaming SHA-256 (OpenSSL EVP underneath) and digest-string helpers for the blob store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace hearth::store {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, size_t n);
  // Lower-case hex of the digest; the hasher is reset afterwards.
  std::string final_hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
// Hashes a whole file (or its first `limit` bytes when limit != UINT64_MAX) into `hasher`.
Status hash_file_into(const std::string& path, Sha256& hasher, uint64_t limit = UINT64_MAX);
Result<std::string> sha256_file_hex(const std::string& path);

// "sha256:<64 lower-case hex>" — the only digest form the store accepts (it becomes a file name).
bool is_valid_digest(std::string_view digest);
// "sha256:<hex>" -> "sha256-<hex>" (the blob's file name, as Ollama names it).
std::string digest_to_blob_name(std::string_view digest);

}  // namespace hearth::store
