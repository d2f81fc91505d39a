// ModelStore::pull: the Ollama registry protocol (manifest, then blobs by digest) and Hugging
// Face GGUF repositories (API listing, then resolve/main/FILE), with resumable downloads into
// partial/, sha256 verification, free-space checks and bounded retries.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/log.h"
#include "store/file_util.h"
#include "store/http.h"
#include "store/model_store.h"
#include "store/sha256.h"

namespace hearth::store {
namespace {

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Percent-encodes one URL path segment.
std::string url_segment(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == '/') {
      out += '/';  // Hugging Face file names may sit in folders
    } else {
      out += str_format("%%%02X", c);
    }
  }
  return out;
}

void report(const PullOptions& o, const std::string& status, const std::string& digest = "",
            uint64_t total = 0, uint64_t completed = 0) {
  if (!o.progress) return;
  PullProgress p;
  p.status = status;
  p.digest = digest;
  p.total = total;
  p.completed = completed;
  o.progress(p);
}

std::string short_digest(const std::string& digest) {
  size_t colon = digest.find(':');
  std::string hex = colon == std::string::npos ? digest : digest.substr(colon + 1);
  return hex.substr(0, 12);
}

bool retryable(const Status& s) {
  return s.code() == ErrorCode::kUnavailable;
}

// An open, exclusively locked partial file; closing releases the lock.
struct PartialFile {
  int fd = -1;
  std::string path;
  ~PartialFile() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::string> ModelStore::download_blob(const std::string& url, const std::string& digest,
                                              uint64_t size, const std::string& partial_key,
                                              const std::vector<std::string>& headers,
                                              const PullOptions& options) const {
  if (!digest.empty() && file_exists(blob_path(digest))) return digest;
  PartialFile partial;
  partial.path = root_ + "/partial/" + partial_key + ".partial";
  partial.fd = ::open(partial.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (partial.fd < 0) {
    return io_error(str_format("cannot open '%s': %s", partial.path.c_str(), std::strerror(errno)));
  }
  if (::flock(partial.fd, LOCK_EX | LOCK_NB) != 0) {
    return Status(ErrorCode::kUnavailable,
                  str_format("another hearth process is downloading '%s' (%s)", url.c_str(),
                             partial.path.c_str()));
  }
  const std::string label = "pulling " + (digest.empty() ? partial_key : short_digest(digest));
  HttpOptions http;
  http.headers = headers;
  http.connect_timeout_s = options.connect_timeout_s;
  http.low_speed_time_s = options.low_speed_time_s;

  Sha256 hasher;
  const int attempts = std::max(1, options.max_attempts);
  uint64_t completed = 0;
  uint64_t expected = size;  // 0: unknown until the server says
  for (int attempt = 1;; ++attempt) {
    struct stat st;
    if (::fstat(partial.fd, &st) != 0) return io_error("cannot stat " + partial.path);
    uint64_t offset = static_cast<uint64_t>(st.st_size);
    if (expected > 0 && offset > expected) {  // cannot be ours: start over
      if (::ftruncate(partial.fd, 0) != 0) return io_error("cannot truncate " + partial.path);
      offset = 0;
    }
    hasher = Sha256();
    if (offset > 0) HEARTH_RETURN_IF_ERROR(hash_file_into(partial.path, hasher, offset));
    completed = offset;
    if (expected > 0 && offset == expected) break;  // already complete: verify below
    if (expected > 0) HEARTH_RETURN_IF_ERROR(check_free_space(root_, expected - offset));
    if (::lseek(partial.fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
      return io_error("cannot seek " + partial.path);
    }
    if (offset > 0) {
      LOG_INFO("resuming %s at byte %llu", url.c_str(), static_cast<unsigned long long>(offset));
    }
    report(options, label, digest, expected, completed);

    auto on_start = [&](long status, uint64_t total) -> Status {
      if (status != 206 && offset > 0) {  // the server ignored Range: restart from zero
        if (::ftruncate(partial.fd, 0) != 0 || ::lseek(partial.fd, 0, SEEK_SET) < 0) {
          return io_error("cannot truncate " + partial.path);
        }
        hasher = Sha256();
        completed = 0;
      }
      if (total > 0) {
        if (expected > 0 && total != expected) {
          return corrupt_data_error(str_format(
              "%s: the server reports %llu bytes, the manifest says %llu", url.c_str(),
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(expected)));
        }
        if (expected == 0) {
          expected = total;
          HEARTH_RETURN_IF_ERROR(check_free_space(root_, expected - completed));
        }
      }
      return Status::ok();
    };
    auto on_data = [&](const uint8_t* data, size_t n) -> Status {
      if (expected > 0 && completed + n > expected) {
        return corrupt_data_error(str_format("%s: more data than the expected %llu bytes",
                                             url.c_str(),
                                             static_cast<unsigned long long>(expected)));
      }
      if (options.cancelled && options.cancelled()) return cancelled_error("pull cancelled");
      HEARTH_RETURN_IF_ERROR(write_all(partial.fd, data, n, partial.path));
      hasher.update(data, n);
      completed += n;
      report(options, label, digest, expected, completed);
      return Status::ok();
    };
    auto result = http_download(url, offset, http, on_start, on_data);
    Status s = result.status();
    if (s.is_ok() && expected > 0 && completed < expected) {
      s = Status(ErrorCode::kUnavailable,
                 str_format("%s: connection ended after %llu of %llu bytes", url.c_str(),
                            static_cast<unsigned long long>(completed),
                            static_cast<unsigned long long>(expected)));
    }
    if (s.is_ok()) break;
    if (s.code() == ErrorCode::kCorruptData) {
      ::unlink(partial.path.c_str());  // bad bytes: resuming from them cannot succeed
      return s;
    }
    if (!retryable(s) || attempt >= attempts) {
      if (::fstat(partial.fd, &st) == 0 && st.st_size == 0) ::unlink(partial.path.c_str());
      if (retryable(s) && completed > 0) {
        return s.with_context(
            str_format("download incomplete (%llu bytes kept in %s; run the pull again to resume)",
                       static_cast<unsigned long long>(completed), partial.path.c_str()));
      }
      return s;
    }
    LOG_WARN("%s (attempt %d of %d); retrying", s.message().c_str(), attempt, attempts);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
  }

  HEARTH_RETURN_IF_ERROR(fsync_fd(partial.fd, partial.path));
  report(options, "verifying sha256 digest", digest, expected, completed);
  std::string actual = "sha256:" + hasher.final_hex();
  if (!digest.empty() && actual != digest) {
    // The bytes are wrong, so resuming from them cannot help: drop the partial file.
    ::unlink(partial.path.c_str());
    return corrupt_data_error(str_format(
        "checksum mismatch for %s: expected %s, got %s; the download was discarded, nothing was "
        "installed",
        url.c_str(), digest.c_str(), actual.c_str()));
  }
  HEARTH_RETURN_IF_ERROR(install_blob(partial.path, actual));
  return actual;
}

Status ModelStore::pull(const ModelName& name, const PullOptions& options) {
  if (name.is_local_file()) {
    return invalid_argument_error(
        str_format("'%s' is a local file: nothing to pull (use it directly, or hearth import)",
                   name.path.c_str()));
  }
  HEARTH_RETURN_IF_ERROR(ensure_layout());
  if (name.kind == ModelName::Kind::kHuggingFace) return pull_hugging_face(name, options);
  return pull_registry(name, options);
}

Status ModelStore::pull_registry(const ModelName& name, const PullOptions& options) {
  const std::string shown = name.display();
  std::string base =
      name.host == kDefaultRegistryHost ? trim_slash(options.registry_url) : "https://" + name.host;
  std::string repo = base + "/v2/" + name.name_space + "/" + name.model;
  HttpOptions http;
  http.headers = {std::string("Accept: ") + kManifestMediaType};
  http.connect_timeout_s = options.connect_timeout_s;
  http.low_speed_time_s = options.low_speed_time_s;

  report(options, "pulling manifest");
  auto response = http_get(repo + "/manifests/" + name.tag, http);
  if (!response.is_ok()) {
    if (response.status().code() == ErrorCode::kNotFound) {
      return not_found_error(str_format("model '%s' not found in the registry", shown.c_str()));
    }
    return response.status().with_context(str_format("pulling manifest for '%s'", shown.c_str()));
  }
  auto manifest = parse_manifest(response->body);
  if (!manifest.is_ok()) {
    return manifest.status().with_context(str_format("manifest of '%s'", shown.c_str()));
  }
  if (!manifest->model_layer()) {
    return unsupported_error(str_format("'%s' has no GGUF model layer", shown.c_str()));
  }

  std::vector<ManifestLayer> blobs;
  if (!manifest->config.digest.empty()) blobs.push_back(manifest->config);
  blobs.insert(blobs.end(), manifest->layers.begin(), manifest->layers.end());
  uint64_t missing = 0;
  for (const ManifestLayer& blob : blobs) {
    if (!file_exists(blob_path(blob.digest))) missing += blob.size;
  }
  HEARTH_RETURN_IF_ERROR(check_free_space(root_, missing));

  for (const ManifestLayer& blob : blobs) {
    if (file_exists(blob_path(blob.digest))) {
      report(options, "pulling " + short_digest(blob.digest), blob.digest, blob.size, blob.size);
      continue;
    }
    auto got = download_blob(repo + "/blobs/" + blob.digest, blob.digest, blob.size,
                             digest_to_blob_name(blob.digest), {}, options);
    if (!got.is_ok()) {
      if (got.status().code() == ErrorCode::kNotFound) {
        return not_found_error(str_format("blob %s of '%s' not found in the registry",
                                          blob.digest.c_str(), shown.c_str()));
      }
      return got.status().with_context(str_format("pulling '%s'", shown.c_str()));
    }
  }
  report(options, "writing manifest");
  HEARTH_RETURN_IF_ERROR(write_manifest(name, response->body));
  report(options, "success");
  return Status::ok();
}

Status ModelStore::pull_hugging_face(const ModelName& name, const PullOptions& options) {
  using nlohmann::json;
  const std::string shown = name.display();
  const std::string endpoint = trim_slash(options.hf_endpoint);
  const std::string repo_id = name.name_space + "/" + name.model;
  HttpOptions http;
  http.connect_timeout_s = options.connect_timeout_s;
  http.low_speed_time_s = options.low_speed_time_s;
  if (!options.hf_token.empty())
    http.headers.push_back("Authorization: Bearer " + options.hf_token);

  report(options, "pulling manifest");
  auto response = http_get(endpoint + "/api/models/" + repo_id + "?blobs=true", http);
  if (!response.is_ok()) {
    if (response.status().code() == ErrorCode::kNotFound) {
      return not_found_error(str_format("model '%s' not found: no Hugging Face repository '%s'",
                                        shown.c_str(), repo_id.c_str()));
    }
    return response.status().with_context(str_format("listing '%s'", repo_id.c_str()));
  }
  json info = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  auto siblings = info.is_object() ? info.find("siblings") : info.end();
  if (!info.is_object() || siblings == info.end() || !siblings->is_array()) {
    return corrupt_data_error(str_format("unexpected answer listing '%s'", repo_id.c_str()));
  }
  // Pick the .gguf whose name contains the quantisation (case-insensitive), not a projector.
  const std::string quant = lower(name.tag);
  std::vector<const json*> matches;
  std::vector<std::string> available;
  for (const json& s : *siblings) {
    auto fn = s.is_object() ? s.find("rfilename") : s.end();
    if (!s.is_object() || fn == s.end() || !fn->is_string()) continue;
    std::string file = fn->get<std::string>();
    std::string lf = lower(file);
    if (lf.size() < 5 || lf.substr(lf.size() - 5) != ".gguf" ||
        lf.find("mmproj") != std::string::npos) {
      continue;
    }
    available.push_back(file);
    if (lf.find(quant) != std::string::npos) matches.push_back(&s);
  }
  if (matches.empty()) {
    std::string list;
    for (size_t i = 0; i < available.size() && i < 12; ++i) list += (i ? ", " : "") + available[i];
    return not_found_error(str_format(
        "model '%s' not found: no .gguf file matching '%s' in %s%s%s", shown.c_str(),
        name.tag.c_str(), repo_id.c_str(),
        available.empty() ? "" : " (available: ", available.empty() ? "" : (list + ")").c_str()));
  }
  // Shortest name first: "Qwen3.5-9B-Q4_K_M.gguf" over "Qwen3.5-9B-Q4_K_M-imatrix-v2.gguf".
  std::sort(matches.begin(), matches.end(), [](const json* a, const json* b) {
    std::string fa = (*a)["rfilename"].get<std::string>(),
                fb = (*b)["rfilename"].get<std::string>();
    return fa.size() != fb.size() ? fa.size() < fb.size() : fa < fb;
  });
  const json& pick = *matches.front();
  std::string file = pick["rfilename"].get<std::string>();
  if (lower(file).find("-of-0") != std::string::npos) {
    return unsupported_error(
        str_format("'%s' is split into several files; hearth needs a single "
                   ".gguf (merge it with llama-gguf-split --merge)",
                   file.c_str()));
  }
  uint64_t size = 0;
  std::string digest;
  auto lfs = pick.find("lfs");
  if (lfs != pick.end() && lfs->is_object()) {
    auto sha = lfs->find("sha256");
    auto sz = lfs->find("size");
    if (sha != lfs->end() && sha->is_string() &&
        is_valid_digest("sha256:" + sha->get<std::string>())) {
      digest = "sha256:" + sha->get<std::string>();
    }
    if (sz != lfs->end() && sz->is_number_unsigned()) size = sz->get<uint64_t>();
  }
  if (size == 0) {
    auto sz = pick.find("size");
    if (sz != pick.end() && sz->is_number_unsigned()) size = sz->get<uint64_t>();
  }
  if (size > 0) HEARTH_RETURN_IF_ERROR(check_free_space(root_, size));

  std::string url = endpoint + "/" + repo_id + "/resolve/main/" + url_segment(file);
  std::string key =
      digest.empty() ? "hf-" + sha256_hex(url).substr(0, 32) : digest_to_blob_name(digest);
  auto got = download_blob(url, digest, size, key, http.headers, options);
  if (!got.is_ok()) return got.status().with_context(str_format("pulling '%s'", shown.c_str()));
  std::string model_digest = *got;

  auto checked = check_runnable_gguf(blob_path(model_digest));
  if (!checked.is_ok()) {
    Status unused = prune_blobs({model_digest});
    (void)unused;
    return checked.status();
  }
  struct stat st;
  uint64_t model_size =
      ::stat(blob_path(model_digest).c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : size;
  std::string config = make_config_json(checked->first, checked->second);
  HEARTH_ASSIGN_OR_RETURN(std::string config_digest, write_blob_bytes(config));
  Manifest manifest;
  manifest.config = {kConfigMediaType, config_digest, static_cast<uint64_t>(config.size())};
  manifest.layers.push_back({kModelMediaType, model_digest, model_size});
  report(options, "writing manifest");
  HEARTH_RETURN_IF_ERROR(write_manifest(name, serialize_manifest(manifest)));
  report(options, "success");
  return Status::ok();
}

}  // namespace hearth::store
