// ModelStore: layout, atomic blob/manifest writes, import, list, remove, resolve. Downloads
// (pull) live in pull.cpp.
#include "store/model_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <vector>

#include "base/log.h"
#include "gguf/gguf_file.h"
#include "store/file_util.h"
#include "store/sha256.h"

namespace hearth::store {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// file_util.h

Status write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      if (err == ENOSPC || err == EDQUOT) {
        return resource_exhausted_error(
            str_format("disk full while writing '%s': %s", path.c_str(), std::strerror(err)));
      }
      return io_error(str_format("cannot write '%s': %s", path.c_str(), std::strerror(err)));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::ok();
}

Status fsync_fd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) {
    int err = errno;
    if (err == ENOSPC || err == EDQUOT) {
      return resource_exhausted_error(
          str_format("disk full while writing '%s': %s", path.c_str(), std::strerror(err)));
    }
    return io_error(str_format("cannot fsync '%s': %s", path.c_str(), std::strerror(err)));
  }
  return Status::ok();
}

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return io_error(str_format("cannot open '%s': %s", dir.c_str(), std::strerror(errno)));
  Status s = fsync_fd(fd, dir);
  ::close(fd);
  return s;
}

Result<int> create_temp_file(const std::string& dir, const std::string& prefix, std::string* path) {
  std::string templ = dir + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  int fd = ::mkstemp(buf.data());
  if (fd < 0) {
    return io_error(
        str_format("cannot create a temp file in '%s': %s", dir.c_str(), std::strerror(errno)));
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  *path = buf.data();
  return fd;
}

Result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = str_format("cannot open '%s': %s", path.c_str(), std::strerror(err));
    return err == ENOENT ? not_found_error(msg) : io_error(msg);
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return io_error(str_format("cannot read '%s': %s", path.c_str(), std::strerror(err)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return out_of_range_error(
          str_format("'%s' is larger than %zu bytes", path.c_str(), max_bytes));
    }
  }
  ::close(fd);
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// ---------------------------------------------------------------------------------------------

namespace {

constexpr size_t kMaxManifestBytes = 4u << 20;

Status make_dirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error(str_format("cannot create '%s': %s", dir.c_str(), ec.message().c_str()));
  return Status::ok();
}

// Checks that the GGUF is one hearth runs; returns (architecture, file type name).
Result<std::pair<std::string, std::string>> check_gguf(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::open(path));
  auto arch = file.get_string("general.architecture");
  if (!arch.is_ok()) {
    return unsupported_error(str_format("'%s' has no general.architecture key", path.c_str()));
  }
  if (*arch != "qwen35" && *arch != "qwen35moe") {
    return unsupported_error(str_format(
        "'%s' has architecture '%s'; hearth runs Qwen3.5 models (qwen35, qwen35moe) only",
        path.c_str(), arch->c_str()));
  }
  std::string file_type = "unknown";
  auto ft = file.get_u64("general.file_type");
  if (ft.is_ok()) file_type = gguf_file_type_name(*ft);
  return std::make_pair(*arch, file_type);
}

}  // namespace

std::string gguf_file_type_name(uint64_t t) {
  // llama_ftype values (llama.h); gaps are retired types.
  static const char* kNames[] = {
      "F32",    "F16",    "Q4_0",  "Q4_1",    nullptr,  nullptr,  nullptr,    "Q8_0",
      "Q5_0",   "Q5_1",   "Q2_K",  "Q3_K_S",  "Q3_K_M", "Q3_K_L", "Q4_K_S",   "Q4_K_M",
      "Q5_K_S", "Q5_K_M", "Q6_K",  "IQ2_XXS", "IQ2_XS", "Q2_K_S", "IQ3_XS",   "IQ3_XXS",
      "IQ1_S",  "IQ4_NL", "IQ3_S", "IQ3_M",   "IQ2_S",  "IQ2_M",  "IQ4_XS",   "IQ1_M",
      "BF16",   nullptr,  nullptr, nullptr,   "TQ1_0",  "TQ2_0",  "MXFP4_MOE"};
  if (t < sizeof(kNames) / sizeof(kNames[0]) && kNames[t]) return kNames[t];
  return str_format("unknown (%llu)", static_cast<unsigned long long>(t));
}

std::string human_size(uint64_t bytes) {
  // Ollama prints decimal units.
  if (bytes >= 1000000000ull) return str_format("%.1f GB", bytes / 1e9);
  if (bytes >= 1000000ull) return str_format("%.0f MB", bytes / 1e6);
  if (bytes >= 1000ull) return str_format("%.0f KB", bytes / 1e3);
  return str_format("%llu B", static_cast<unsigned long long>(bytes));
}

std::string human_age(int64_t s) {
  if (s < 0) s = 0;
  auto unit = [](int64_t n, const char* what) {
    return str_format("%lld %s%s ago", static_cast<long long>(n), what, n == 1 ? "" : "s");
  };
  if (s < 60) return s <= 1 ? "Less than a second ago" : unit(s, "second");
  if (s < 3600) return unit(s / 60, "minute");
  if (s < 86400) return unit(s / 3600, "hour");
  if (s < 86400 * 7) return unit(s / 86400, "day");
  if (s < 86400 * 30) return unit(s / (86400 * 7), "week");
  if (s < 86400 * 365) return unit(s / (86400 * 30), "month");
  return unit(s / (86400 * 365), "year");
}

Status check_free_space(const std::string& dir, uint64_t needed) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) {
    return io_error(
        str_format("cannot query free space of '%s': %s", dir.c_str(), std::strerror(errno)));
  }
  uint64_t avail = static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
  if (avail < needed) {
    return resource_exhausted_error(str_format("not enough disk space in '%s': need %s, %s free",
                                               dir.c_str(), human_size(needed).c_str(),
                                               human_size(avail).c_str()));
  }
  return Status::ok();
}

PullOptions pull_options_from_env() {
  PullOptions o;
  const char* reg = std::getenv("HEARTH_REGISTRY");
  const char* hf = std::getenv("HF_ENDPOINT");
  const char* token = std::getenv("HF_TOKEN");
  o.registry_url = reg && *reg ? reg : "https://registry.ollama.ai";
  o.hf_endpoint = hf && *hf ? hf : "https://huggingface.co";
  if (token) o.hf_token = token;
  return o;
}

ModelStore::ModelStore(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string ModelStore::default_root() {
  const char* env = std::getenv("HEARTH_MODELS");
  if (env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.hearth/models";
}

std::string ModelStore::blob_path(const std::string& digest) const {
  return root_ + "/blobs/" + digest_to_blob_name(digest);
}

std::string ModelStore::manifest_path(const ModelName& name) const {
  return root_ + "/manifests/" + name.manifest_relpath();
}

Status ModelStore::ensure_layout() const {
  for (const char* sub : {"blobs", "manifests", "partial", "tmp"}) {
    HEARTH_RETURN_IF_ERROR(make_dirs(root_ + "/" + sub));
  }
  return Status::ok();
}

Status ModelStore::install_blob(const std::string& temp_path, const std::string& digest) const {
  std::string dest = blob_path(digest);
  if (file_exists(dest)) {  // identical content already stored: keep one copy
    ::unlink(temp_path.c_str());
    return Status::ok();
  }
  ::chmod(temp_path.c_str(), 0644);
  if (::rename(temp_path.c_str(), dest.c_str()) != 0) {
    int err = errno;
    ::unlink(temp_path.c_str());
    return io_error(str_format("cannot move blob into '%s': %s", dest.c_str(), std::strerror(err)));
  }
  return fsync_dir(root_ + "/blobs");
}

Result<std::string> ModelStore::write_blob_bytes(const std::string& bytes) const {
  std::string digest = "sha256:" + sha256_hex(bytes);
  if (file_exists(blob_path(digest))) return digest;
  std::string temp;
  HEARTH_ASSIGN_OR_RETURN(int fd, create_temp_file(root_ + "/tmp", "blob", &temp));
  Status s = write_all(fd, bytes.data(), bytes.size(), temp);
  if (s.is_ok()) s = fsync_fd(fd, temp);
  ::close(fd);
  if (!s.is_ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  HEARTH_RETURN_IF_ERROR(install_blob(temp, digest));
  return digest;
}

Status ModelStore::write_manifest(const ModelName& name, const std::string& json) const {
  // Re-check what becomes a path, whatever produced `name`.
  for (const std::string* part : {&name.name_space, &name.model, &name.tag}) {
    if (!is_valid_name_part(*part)) return invalid_argument_error("invalid name part: " + *part);
  }
  if (!is_valid_name_part(name.host, /*allow_colon=*/true)) {
    return invalid_argument_error("invalid host: " + name.host);
  }
  std::string path = manifest_path(name);
  std::string dir = path.substr(0, path.rfind('/'));
  HEARTH_RETURN_IF_ERROR(make_dirs(dir));
  std::string temp;
  HEARTH_ASSIGN_OR_RETURN(int fd, create_temp_file(root_ + "/tmp", "manifest", &temp));
  Status s = write_all(fd, json.data(), json.size(), temp);
  if (s.is_ok()) s = fsync_fd(fd, temp);
  ::close(fd);
  if (s.is_ok()) {
    ::chmod(temp.c_str(), 0644);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      s = io_error(str_format("cannot write '%s': %s", path.c_str(), std::strerror(errno)));
    }
  }
  if (!s.is_ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  return fsync_dir(dir);
}

Result<Manifest> ModelStore::read_manifest(const ModelName& name) const {
  if (name.is_local_file()) return invalid_argument_error("a local file has no manifest");
  auto bytes = read_small_file(manifest_path(name), kMaxManifestBytes);
  if (!bytes.is_ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound) {
      return not_found_error(str_format("model '%s' not found; pull it first (hearth pull %s)",
                                        name.display().c_str(), name.display().c_str()));
    }
    return bytes.status();
  }
  auto manifest = parse_manifest(*bytes);
  if (!manifest.is_ok()) return manifest.status().with_context(manifest_path(name));
  return manifest;
}

Result<ModelEntry> ModelStore::import_gguf(const std::string& gguf_path, const ModelName& name) {
  if (name.is_local_file()) {
    return invalid_argument_error("the import name must be a model name like 'mymodel:tag'");
  }
  HEARTH_ASSIGN_OR_RETURN(auto info, check_gguf(gguf_path));
  HEARTH_RETURN_IF_ERROR(ensure_layout());

  struct stat st;
  if (::stat(gguf_path.c_str(), &st) != 0) {
    return io_error(str_format("cannot stat '%s': %s", gguf_path.c_str(), std::strerror(errno)));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  // Copy while hashing into a temp file inside the store, then rename: never half a blob.
  int in = ::open(gguf_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    return io_error(str_format("cannot open '%s': %s", gguf_path.c_str(), std::strerror(errno)));
  }
  HEARTH_RETURN_IF_ERROR(check_free_space(root_, size));
  std::string temp;
  auto fd_or = create_temp_file(root_ + "/tmp", "import", &temp);
  if (!fd_or.is_ok()) {
    ::close(in);
    return fd_or.status();
  }
  int out = *fd_or;
  Sha256 hasher;
  std::vector<uint8_t> buf(4u << 20);
  uint64_t copied = 0;
  Status s;
  while (s.is_ok()) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      s = io_error(str_format("cannot read '%s': %s", gguf_path.c_str(), std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    hasher.update(buf.data(), static_cast<size_t>(n));
    s = write_all(out, buf.data(), static_cast<size_t>(n), temp);
    copied += static_cast<uint64_t>(n);
  }
  if (s.is_ok() && copied != size) {
    s = io_error(str_format("'%s' changed size while importing", gguf_path.c_str()));
  }
  if (s.is_ok()) s = fsync_fd(out, temp);
  ::close(in);
  ::close(out);
  std::string digest = "sha256:" + hasher.final_hex();
  if (s.is_ok()) s = install_blob(temp, digest);
  if (!s.is_ok()) {
    ::unlink(temp.c_str());
    return s;
  }

  HEARTH_ASSIGN_OR_RETURN(std::string config_digest,
                          write_blob_bytes(make_config_json(info.first, info.second)));
  Manifest manifest;
  manifest.config = {kConfigMediaType, config_digest,
                     static_cast<uint64_t>(make_config_json(info.first, info.second).size())};
  manifest.layers.push_back({kModelMediaType, digest, size});
  HEARTH_RETURN_IF_ERROR(write_manifest(name, serialize_manifest(manifest)));
  return resolve(name);
}

namespace {

// Calls fn(name, manifest bytes, path) for every well-formed manifest file below manifests/.
Status walk_manifests(
    const std::string& root,
    const std::function<void(const ModelName&, const std::string&, const std::string&)>& fn) {
  std::string base = root + "/manifests";
  std::error_code ec;
  if (!fs::is_directory(base, ec)) return Status::ok();
  fs::recursive_directory_iterator it(base, fs::directory_options::none, ec), end;
  if (ec) return io_error(str_format("cannot list '%s': %s", base.c_str(), ec.message().c_str()));
  for (; it != end; it.increment(ec)) {
    if (ec) return io_error(str_format("cannot list '%s': %s", base.c_str(), ec.message().c_str()));
    if (it.depth() != 3 || !it->is_regular_file(ec)) continue;
    fs::path rel = fs::relative(it->path(), base, ec);
    std::vector<std::string> parts;
    for (const auto& p : rel) parts.push_back(p.string());
    if (parts.size() != 4) continue;
    ModelName name;
    name.host = parts[0];
    name.name_space = parts[1];
    name.model = parts[2];
    name.tag = parts[3];
    name.kind =
        name.host == kHuggingFaceHost ? ModelName::Kind::kHuggingFace : ModelName::Kind::kRegistry;
    if (!is_valid_name_part(name.host, true) || !is_valid_name_part(name.name_space) ||
        !is_valid_name_part(name.model) || !is_valid_name_part(name.tag)) {
      continue;  // not ours (editor backups, stray files)
    }
    auto bytes = read_small_file(it->path().string(), kMaxManifestBytes);
    if (!bytes.is_ok()) continue;
    fn(name, *bytes, it->path().string());
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<ModelEntry>> ModelStore::list() const {
  std::vector<ModelEntry> entries;
  HEARTH_RETURN_IF_ERROR(walk_manifests(
      root_, [&](const ModelName& name, const std::string& bytes, const std::string& path) {
        auto manifest = parse_manifest(bytes);
        if (!manifest.is_ok()) {
          LOG_WARN("skipping unreadable manifest %s: %s", path.c_str(),
                   manifest.status().message().c_str());
          return;
        }
        ModelEntry entry;
        entry.name = name.display();
        entry.id = sha256_hex(bytes).substr(0, 12);
        entry.size = manifest->total_size();
        struct stat st;
        if (::stat(path.c_str(), &st) == 0) entry.modified_unix = st.st_mtime;
        if (const ManifestLayer* model = manifest->model_layer()) {
          entry.gguf_path = blob_path(model->digest);
        }
        entries.push_back(std::move(entry));
      }));
  std::sort(entries.begin(), entries.end(),
            [](const ModelEntry& a, const ModelEntry& b) { return a.name < b.name; });
  return entries;
}

Status ModelStore::prune_blobs(const std::vector<std::string>& digests) const {
  std::set<std::string> referenced;
  bool unreadable = false;
  HEARTH_RETURN_IF_ERROR(
      walk_manifests(root_, [&](const ModelName&, const std::string& bytes, const std::string&) {
        auto manifest = parse_manifest(bytes);
        if (!manifest.is_ok()) {
          unreadable = true;
          return;
        }
        for (const std::string& d : manifest->digests()) referenced.insert(d);
      }));
  // A manifest we cannot read might reference anything: then delete nothing.
  if (unreadable) return Status::ok();
  for (const std::string& d : digests) {
    if (!is_valid_digest(d) || referenced.count(d)) continue;
    if (::unlink(blob_path(d).c_str()) != 0 && errno != ENOENT) {
      LOG_WARN("cannot delete blob %s: %s", blob_path(d).c_str(), std::strerror(errno));
    }
  }
  return Status::ok();
}

Status ModelStore::remove(const ModelName& name) {
  if (name.is_local_file()) {
    return invalid_argument_error(str_format(
        "'%s' is a local file, not a stored model; delete it yourself", name.path.c_str()));
  }
  std::string path = manifest_path(name);
  if (!file_exists(path)) {
    return not_found_error(str_format("model '%s' not found", name.display().c_str()));
  }
  std::vector<std::string> digests;
  auto manifest = read_manifest(name);
  if (manifest.is_ok()) digests = manifest->digests();
  if (::unlink(path.c_str()) != 0) {
    return io_error(str_format("cannot delete '%s': %s", path.c_str(), std::strerror(errno)));
  }
  // Drop now-empty model/namespace/host folders (rmdir fails harmlessly on non-empty ones).
  std::string dir = path.substr(0, path.rfind('/'));
  for (int i = 0; i < 3; ++i) {
    if (::rmdir(dir.c_str()) != 0) break;
    dir = dir.substr(0, dir.rfind('/'));
  }
  return prune_blobs(digests);
}

Result<ModelEntry> ModelStore::resolve(const ModelName& name) const {
  ModelEntry entry;
  entry.name = name.display();
  if (name.is_local_file()) {
    struct stat st;
    if (::stat(name.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return not_found_error(str_format("model file '%s' not found", name.path.c_str()));
    }
    entry.gguf_path = name.path;
    entry.size = static_cast<uint64_t>(st.st_size);
    entry.modified_unix = st.st_mtime;
    return entry;
  }
  auto bytes = read_small_file(manifest_path(name), kMaxManifestBytes);
  if (!bytes.is_ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound) {
      return not_found_error(str_format("model '%s' not found; pull it first (hearth pull %s)",
                                        entry.name.c_str(), entry.name.c_str()));
    }
    return bytes.status();
  }
  auto manifest = parse_manifest(*bytes);
  if (!manifest.is_ok()) return manifest.status().with_context(manifest_path(name));
  const ManifestLayer* model = manifest->model_layer();
  if (!model) {
    return unsupported_error(
        str_format("model '%s' has no GGUF weights layer", entry.name.c_str()));
  }
  entry.gguf_path = blob_path(model->digest);
  if (!file_exists(entry.gguf_path)) {
    return not_found_error(str_format("model '%s' is missing its weights blob %s; pull it again",
                                      entry.name.c_str(), model->digest.c_str()));
  }
  entry.id = sha256_hex(*bytes).substr(0, 12);
  entry.size = manifest->total_size();
  struct stat st;
  if (::stat(manifest_path(name).c_str(), &st) == 0) entry.modified_unix = st.st_mtime;
  return entry;
}

Result<std::pair<std::string, std::string>> check_runnable_gguf(const std::string& path) {
  return check_gguf(path);
}

}  // namespace hearth::store
