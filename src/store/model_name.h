// Model names as users type them, parsed into the parts the store and the downloaders use:
//   qwen3.5, qwen3.5:9b, qwen3.5:9b-q8_0, library/qwen3.5:4b, registry.ollama.ai/library/qwen3.5
//   hf.co/OWNER/REPO[:QUANT]  (Hugging Face GGUF repository, QUANT defaults to Q4_K_M)
//   /path/to/model.gguf, ./model.gguf  (a local file, used in place)
// Every part that becomes a path component is checked here, so no name can escape the store.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace hearth::store {

inline constexpr const char* kDefaultRegistryHost = "registry.ollama.ai";
inline constexpr const char* kDefaultNamespace = "library";
inline constexpr const char* kDefaultTag = "latest";
inline constexpr const char* kHuggingFaceHost = "hf.co";
inline constexpr const char* kDefaultHfQuant = "Q4_K_M";

struct ModelName {
  enum class Kind { kRegistry, kHuggingFace, kLocalFile };
  Kind kind = Kind::kRegistry;
  std::string host;        // "registry.ollama.ai", "hf.co" (lower case)
  std::string name_space;  // "library" / the Hugging Face owner
  std::string model;       // "qwen3.5" / the Hugging Face repository
  std::string tag;         // "latest", "9b", "9b-q8_0" / the quantisation for Hugging Face
  std::string path;        // kLocalFile only: the path as given

  bool is_local_file() const { return kind == Kind::kLocalFile; }
  // The short form shown to users: "qwen3.5:9b", "hf.co/unsloth/Qwen3.5-9B-GGUF:Q4_K_M",
  // "example.com/team/model:tag", or the path for a local file.
  std::string display() const;
  // "<host>/<namespace>/<model>/<tag>": the manifest's path below manifests/ (not for files).
  std::string manifest_relpath() const;
};

// Parses and validates a name. Errors (kInvalidArgument) say what is wrong: empty parts, "." or
// "..", absolute paths that are not .gguf files, characters outside [A-Za-z0-9._-], too long.
Result<ModelName> parse_model_name(std::string_view text);

// True when `part` is safe as one path component of the store (used for names read back from
// disk as well as typed ones).
bool is_valid_name_part(std::string_view part, bool allow_colon = false);

}  // namespace hearth::store
