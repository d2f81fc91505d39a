// ModelStore: hearth's local model store, laid out like Ollama's so the same tools work on it:
//   <root>/blobs/sha256-<hex>                         content-addressed files (stored once)
//   <root>/manifests/<host>/<namespace>/<model>/<tag>  Docker v2 manifest JSON per name
//   <root>/partial/<key>.partial                       resumable downloads in progress
//   <root>/tmp/                                        temp files, renamed into place when verified
// The root is $HEARTH_MODELS or ~/.hearth/models. Every write goes to a temp file in the store,
// is fsynced and verified, then renamed; a failed or interrupted operation never leaves a
// manifest pointing at a missing or unverified blob.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/manifest.h"
#include "store/model_name.h"

namespace hearth::store {

struct ModelEntry {
  std::string name;           // display form ("qwen3.5:9b")
  std::string id;             // first 12 hex of the manifest's sha256 (Ollama's ID column)
  uint64_t size = 0;          // bytes of all blobs (file size for a local .gguf)
  int64_t modified_unix = 0;  // manifest (or file) mtime, seconds
  std::string gguf_path;      // the weights file
};

struct PullProgress {
  std::string status;  // "pulling manifest", "pulling <digest12>", "verifying sha256 digest", ...
  std::string digest;  // set while a blob downloads
  uint64_t total = 0;
  uint64_t completed = 0;
};
using ProgressFn = std::function<void(const PullProgress&)>;

struct PullOptions {
  std::string registry_url;  // base URL of the Ollama registry, e.g. https://registry.ollama.ai
  std::string hf_endpoint;   // e.g. https://huggingface.co
  std::string hf_token;      // sent as a Bearer token to Hugging Face when set
  int max_attempts = 3;      // per blob; later attempts resume from the partial file
  long connect_timeout_s = 30;
  long low_speed_time_s = 60;
  ProgressFn progress;  // may be empty
  // Polled while downloading (may be empty); returning true stops the pull with kCancelled,
  // keeping the partial download for a later resume.
  std::function<bool()> cancelled;
};

// Options from the environment: HEARTH_REGISTRY, HF_ENDPOINT, HF_TOKEN (defaults as above).
PullOptions pull_options_from_env();

// Fails with kResourceExhausted when the filesystem holding `dir` has fewer than `needed` bytes
// free for unprivileged users.
Status check_free_space(const std::string& dir, uint64_t needed);

class ModelStore {
 public:
  explicit ModelStore(std::string root);
  // $HEARTH_MODELS, else $HOME/.hearth/models.
  static std::string default_root();

  const std::string& root() const { return root_; }
  std::string blob_path(const std::string& digest) const;  // digest "sha256:<hex>"
  std::string manifest_path(const ModelName& name) const;

  // Downloads a registry or Hugging Face model (local files are rejected: nothing to pull).
  Status pull(const ModelName& name, const PullOptions& options);
  // Copies a GGUF into the store under `name` (architecture must be qwen35 / qwen35moe).
  Result<ModelEntry> import_gguf(const std::string& gguf_path, const ModelName& name);
  // Every installed model, sorted by name.
  Result<std::vector<ModelEntry>> list() const;
  // Deletes the manifest and the blobs no other manifest references.
  Status remove(const ModelName& name);
  // The local GGUF for a name (a local-file name resolves to itself if it exists).
  Result<ModelEntry> resolve(const ModelName& name) const;
  Result<Manifest> read_manifest(const ModelName& name) const;
  // Deletes those of `digests` that no manifest references any more (after a manifest was
  // replaced, e.g. `hearth create --force`).
  Status prune_blobs(const std::vector<std::string>& digests) const;

 private:
  Status ensure_layout() const;
  // Moves a verified temp file to blobs/ (or drops it when the blob already exists).
  Status install_blob(const std::string& temp_path, const std::string& digest) const;
  // Writes bytes as a verified blob, returns its digest.
  Result<std::string> write_blob_bytes(const std::string& bytes) const;
  Status write_manifest(const ModelName& name, const std::string& json) const;
  // Downloads `url` into blobs/ as `digest` (if empty: computed, returned) with resume.
  Result<std::string> download_blob(const std::string& url, const std::string& digest,
                                    uint64_t size, const std::string& partial_key,
                                    const std::vector<std::string>& headers,
                                    const PullOptions& options) const;
  Status pull_registry(const ModelName& name, const PullOptions& options);
  Status pull_hugging_face(const ModelName& name, const PullOptions& options);

  std::string root_;
};

// llama.cpp's name for a general.file_type value ("Q4_K_M"), or "unknown (N)".
std::string gguf_file_type_name(uint64_t file_type);

// Ollama-style relative time ("2 minutes ago") and sizes ("5.5 GB"), for list output.
std::string human_size(uint64_t bytes);
std::string human_age(int64_t seconds_ago);

}  // namespace hearth::store
