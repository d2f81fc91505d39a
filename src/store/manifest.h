// The manifest file format: a Docker v2 image manifest as Ollama writes it (config blob + layers
// with application/vnd.ollama.image.* media types). JSON stays inside manifest.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace hearth::store {

inline constexpr const char* kManifestMediaType =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kConfigMediaType = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kModelMediaType = "application/vnd.ollama.image.model";

struct ManifestLayer {
  std::string media_type;
  std::string digest;  // "sha256:<hex>", validated by parse_manifest
  uint64_t size = 0;
};

struct Manifest {
  ManifestLayer config;
  std::vector<ManifestLayer> layers;

  // The GGUF weights layer, or null.
  const ManifestLayer* model_layer() const;
  // config + layers, bytes.
  uint64_t total_size() const;
  // Every digest referenced (config first).
  std::vector<std::string> digests() const;
};

// Parses a manifest; rejects missing fields and malformed digests (they become file names).
Result<Manifest> parse_manifest(std::string_view json);
std::string serialize_manifest(const Manifest& manifest);

// The small config blob hearth writes for imported / Hugging Face models.
std::string make_config_json(const std::string& family, const std::string& file_type);

}  // namespace hearth::store
