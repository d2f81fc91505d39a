// Reading and writing Ollama/Docker v2 manifests with nlohmann-json (kept private to this file).
#include "store/manifest.h"

#include <nlohmann/json.hpp>

#include "store/sha256.h"

namespace hearth::store {
namespace {

using nlohmann::json;

Result<ManifestLayer> parse_layer(const json& j, const char* where) {
  if (!j.is_object()) return corrupt_data_error(str_format("manifest: %s is not an object", where));
  ManifestLayer layer;
  auto media = j.find("mediaType");
  auto digest = j.find("digest");
  auto size = j.find("size");
  if (media == j.end() || !media->is_string()) {
    return corrupt_data_error(str_format("manifest: %s has no mediaType", where));
  }
  if (digest == j.end() || !digest->is_string() || !is_valid_digest(digest->get<std::string>())) {
    return corrupt_data_error(str_format("manifest: %s has no valid sha256 digest", where));
  }
  if (size == j.end() || !size->is_number_unsigned()) {
    return corrupt_data_error(str_format("manifest: %s has no size", where));
  }
  layer.media_type = media->get<std::string>();
  layer.digest = digest->get<std::string>();
  layer.size = size->get<uint64_t>();
  return layer;
}

json layer_json(const ManifestLayer& layer) {
  return json{{"mediaType", layer.media_type}, {"digest", layer.digest}, {"size", layer.size}};
}

}  // namespace

const ManifestLayer* Manifest::model_layer() const {
  for (const ManifestLayer& layer : layers) {
    if (layer.media_type == kModelMediaType) return &layer;
  }
  return nullptr;
}

uint64_t Manifest::total_size() const {
  uint64_t total = config.size;
  for (const ManifestLayer& layer : layers) total += layer.size;
  return total;
}

std::vector<std::string> Manifest::digests() const {
  std::vector<std::string> out;
  if (!config.digest.empty()) out.push_back(config.digest);
  for (const ManifestLayer& layer : layers) out.push_back(layer.digest);
  return out;
}

Result<Manifest> parse_manifest(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return corrupt_data_error("manifest: not a JSON object");
  auto version = j.find("schemaVersion");
  if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != 2) {
    return unsupported_error("manifest: schemaVersion is not 2");
  }
  Manifest manifest;
  auto config = j.find("config");
  if (config != j.end()) {
    HEARTH_ASSIGN_OR_RETURN(manifest.config, parse_layer(*config, "config"));
  }
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) return corrupt_data_error("manifest: no layers");
  for (size_t i = 0; i < layers->size(); ++i) {
    std::string where = str_format("layer %zu", i);
    HEARTH_ASSIGN_OR_RETURN(ManifestLayer layer, parse_layer((*layers)[i], where.c_str()));
    manifest.layers.push_back(std::move(layer));
  }
  return manifest;
}

std::string serialize_manifest(const Manifest& manifest) {
  json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = kManifestMediaType;
  if (!manifest.config.digest.empty()) j["config"] = layer_json(manifest.config);
  json layers = json::array();
  for (const ManifestLayer& layer : manifest.layers) layers.push_back(layer_json(layer));
  j["layers"] = std::move(layers);
  return j.dump();
}

std::string make_config_json(const std::string& family, const std::string& file_type) {
  json j;
  j["model_format"] = "gguf";
  j["model_family"] = family;
  j["model_families"] = json::array({family});
  j["file_type"] = file_type;
  j["rootfs"] = json{{"type", "layers"}, {"diff_ids", json::array()}};
  return j.dump();
}

}  // namespace hearth::store
