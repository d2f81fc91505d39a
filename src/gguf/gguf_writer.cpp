// GGUF v3 writer with llama.cpp's layout: header, metadata, tensor infos, zero padding to the
// alignment, then each tensor's bytes zero-padded to the alignment. Files are streamed to a temp
// file beside the target and renamed into place, so a reader never sees a half-written model.
#include "gguf/gguf_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <limits>

namespace hearth::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;
constexpr size_t kMaxTensorName = 63;  // ggml: GGML_MAX_NAME (64) including the terminator

class ByteBuffer {
 public:
  template <typename T>
  void pod(T v) {
    size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &v, sizeof(T));
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    size_t at = bytes_.size();
    bytes_.resize(at + s.size());
    if (!s.empty()) std::memcpy(bytes_.data() + at, s.data(), s.size());
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

Status write_value(const std::string& key, const Value& v, ByteBuffer* out, int depth) {
  switch (v.type) {
    case ValueType::kUint8:
      out->pod(static_cast<uint8_t>(v.u));
      break;
    case ValueType::kInt8:
      out->pod(static_cast<int8_t>(v.i));
      break;
    case ValueType::kUint16:
      out->pod(static_cast<uint16_t>(v.u));
      break;
    case ValueType::kInt16:
      out->pod(static_cast<int16_t>(v.i));
      break;
    case ValueType::kUint32:
      out->pod(static_cast<uint32_t>(v.u));
      break;
    case ValueType::kInt32:
      out->pod(static_cast<int32_t>(v.i));
      break;
    case ValueType::kFloat32:
      out->pod(static_cast<float>(v.f));
      break;
    case ValueType::kBool:
      out->pod(static_cast<uint8_t>(v.u != 0));
      break;
    case ValueType::kString:
      out->str(v.str);
      break;
    case ValueType::kUint64:
      out->pod(v.u);
      break;
    case ValueType::kInt64:
      out->pod(v.i);
      break;
    case ValueType::kFloat64:
      out->pod(v.f);
      break;
    case ValueType::kArray: {
      if (depth >= 8) {
        return invalid_argument_error("metadata key '" + key + "': arrays nested too deeply");
      }
      out->pod(static_cast<uint32_t>(v.array_type));
      out->pod(static_cast<uint64_t>(v.array.size()));
      for (size_t k = 0; k < v.array.size(); ++k) {
        if (v.array[k].type != v.array_type) {
          return invalid_argument_error(str_format(
              "metadata key '%s': array element %zu has type %s but the array holds %s",
              key.c_str(), k, value_type_name(v.array[k].type), value_type_name(v.array_type)));
        }
        HEARTH_RETURN_IF_ERROR(write_value(key, v.array[k], out, depth + 1));
      }
      break;
    }
    default:
      return invalid_argument_error(str_format("metadata key '%s' has invalid type %u", key.c_str(),
                                               static_cast<unsigned>(v.type)));
  }
  return Status::ok();
}

uint64_t pad_to(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

Status errno_error(const char* what, const std::string& path) {
  int err = errno;
  ErrorCode code = ErrorCode::kIo;
  if (err == ENOSPC || err == EDQUOT) code = ErrorCode::kResourceExhausted;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  return make_error(code, "%s '%s': %s", what, path.c_str(), std::strerror(err));
}

Value scalar(ValueType type) {
  Value v;
  v.type = type;
  return v;
}

}  // namespace

// ---- metadata -----------------------------------------------------------------------------------

void GgufWriter::set(const std::string& key, Value value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::set_string(const std::string& key, const std::string& v) {
  Value x = scalar(ValueType::kString);
  x.str = v;
  set(key, std::move(x));
}

void GgufWriter::set_u32(const std::string& key, uint32_t v) {
  Value x = scalar(ValueType::kUint32);
  x.u = v;
  set(key, std::move(x));
}

void GgufWriter::set_i32(const std::string& key, int32_t v) {
  Value x = scalar(ValueType::kInt32);
  x.i = v;
  set(key, std::move(x));
}

void GgufWriter::set_u64(const std::string& key, uint64_t v) {
  Value x = scalar(ValueType::kUint64);
  x.u = v;
  set(key, std::move(x));
}

void GgufWriter::set_f32(const std::string& key, float v) {
  Value x = scalar(ValueType::kFloat32);
  x.f = v;
  set(key, std::move(x));
}

void GgufWriter::set_bool(const std::string& key, bool v) {
  Value x = scalar(ValueType::kBool);
  x.u = v ? 1 : 0;
  set(key, std::move(x));
}

void GgufWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  Value x = scalar(ValueType::kArray);
  x.array_type = ValueType::kString;
  x.array.resize(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    x.array[k].type = ValueType::kString;
    x.array[k].str = v[k];
  }
  set(key, std::move(x));
}

void GgufWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  Value x = scalar(ValueType::kArray);
  x.array_type = ValueType::kInt32;
  x.array.resize(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    x.array[k].type = ValueType::kInt32;
    x.array[k].i = v[k];
  }
  set(key, std::move(x));
}

void GgufWriter::set_f32_array(const std::string& key, const std::vector<float>& v) {
  Value x = scalar(ValueType::kArray);
  x.array_type = ValueType::kFloat32;
  x.array.resize(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    x.array[k].type = ValueType::kFloat32;
    x.array[k].f = v[k];
  }
  set(key, std::move(x));
}

// ---- tensors ------------------------------------------------------------------------------------

Status GgufWriter::check_new_tensor(const std::string& name, DType type,
                                    const std::vector<int64_t>& ne, size_t* n_bytes) const {
  if (name.empty() || name.size() > kMaxTensorName) {
    return invalid_argument_error(
        str_format("tensor name '%s' must be 1..%zu bytes long", name.c_str(), kMaxTensorName));
  }
  for (const PendingTensor& t : tensors_) {
    if (t.name == name) return invalid_argument_error("duplicate tensor name '" + name + "'");
  }
  if (!dtype_traits(static_cast<uint32_t>(type))) {
    return invalid_argument_error(str_format("tensor '%s' has unknown type id %u", name.c_str(),
                                             static_cast<unsigned>(type)));
  }
  if (ne.empty() || ne.size() > 4) {
    return invalid_argument_error(
        str_format("tensor '%s' has %zu dimensions (must be 1..4)", name.c_str(), ne.size()));
  }
  const DTypeTraits& tr = traits(type);
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t elements = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] < 0) {
      return invalid_argument_error(
          str_format("tensor '%s' has negative ne[%zu] %" PRId64, name.c_str(), d, ne[d]));
    }
    uint64_t n = static_cast<uint64_t>(ne[d]);
    if (n != 0 && elements > limit / n) {
      return invalid_argument_error("tensor '" + name + "' shape overflows");
    }
    elements *= n;
  }
  if (ne[0] % tr.block_size != 0) {
    return invalid_argument_error(str_format("tensor '%s' ne[0] %" PRId64
                                             " is not a multiple of the %s block size %" PRId64,
                                             name.c_str(), ne[0], tr.name, tr.block_size));
  }
  uint64_t bytes = static_cast<uint64_t>(ne[0] / tr.block_size) * tr.type_size;
  for (size_t d = 1; d < ne.size(); ++d) {
    uint64_t n = static_cast<uint64_t>(ne[d]);
    if (n != 0 && bytes > limit / n) {
      return invalid_argument_error("tensor '" + name + "' byte size overflows");
    }
    bytes *= n;
  }
  *n_bytes = static_cast<size_t>(bytes);
  return Status::ok();
}

Status GgufWriter::add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                              const void* data, size_t n_bytes) {
  size_t expected = 0;
  HEARTH_RETURN_IF_ERROR(check_new_tensor(name, type, ne, &expected));
  if (n_bytes != expected) {
    return invalid_argument_error(str_format("tensor '%s': got %zu bytes, shape and type need %zu",
                                             name.c_str(), n_bytes, expected));
  }
  if (n_bytes > 0 && data == nullptr) {
    return invalid_argument_error("tensor '" + name + "': null data");
  }
  PendingTensor t;
  t.name = name;
  t.type = type;
  t.ne = ne;
  t.n_bytes = n_bytes;
  const auto* p = static_cast<const uint8_t*>(data);
  t.data.assign(p, p + n_bytes);
  tensors_.push_back(std::move(t));
  return Status::ok();
}

Status GgufWriter::add_tensor_lazy(const std::string& name, DType type,
                                   const std::vector<int64_t>& ne, FillFn fill) {
  size_t n_bytes = 0;
  HEARTH_RETURN_IF_ERROR(check_new_tensor(name, type, ne, &n_bytes));
  if (!fill) return invalid_argument_error("tensor '" + name + "': empty fill function");
  PendingTensor t;
  t.name = name;
  t.type = type;
  t.ne = ne;
  t.n_bytes = n_bytes;
  t.fill = std::move(fill);
  tensors_.push_back(std::move(t));
  return Status::ok();
}

// ---- serialisation ------------------------------------------------------------------------------

Status GgufWriter::serialize(const std::function<Status(const uint8_t*, size_t)>& sink) const {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
    return invalid_argument_error(str_format("alignment %u is not a power of two", alignment_));
  }
  // The reader takes the alignment from general.alignment, so it must agree with alignment_.
  bool has_alignment_key = false;
  for (const auto& [k, v] : metadata_) {
    if (k != "general.alignment") continue;
    if (v.type != ValueType::kUint32 || v.u != alignment_) {
      return invalid_argument_error(
          str_format("general.alignment is %s %s but the writer aligns to %u",
                     value_type_name(v.type), v.to_display_string().c_str(), alignment_));
    }
    has_alignment_key = true;
  }
  const bool add_alignment_key = !has_alignment_key && alignment_ != kDefaultAlignment;

  ByteBuffer head;
  head.pod(kMagic);
  head.pod(kVersion);
  head.pod(static_cast<uint64_t>(tensors_.size()));
  head.pod(static_cast<uint64_t>(metadata_.size() + (add_alignment_key ? 1 : 0)));
  for (const auto& [k, v] : metadata_) {
    head.str(k);
    head.pod(static_cast<uint32_t>(v.type));
    HEARTH_RETURN_IF_ERROR(write_value(k, v, &head, 0));
  }
  if (add_alignment_key) {
    head.str("general.alignment");
    head.pod(static_cast<uint32_t>(ValueType::kUint32));
    head.pod(alignment_);
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    head.str(t.name);
    head.pod(static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) head.pod(static_cast<uint64_t>(n));
    head.pod(static_cast<uint32_t>(t.type));
    head.pod(offset);
    offset += pad_to(t.n_bytes, alignment_);
  }
  // With no tensors the file ends after the infos, like gguf-py's vocab-only files (the shared
  // llama.cpp test vocab is one); readers only pad up to a data section that is there.
  if (!tensors_.empty()) head.bytes().resize(pad_to(head.bytes().size(), alignment_), 0);
  HEARTH_RETURN_IF_ERROR(sink(head.bytes().data(), head.bytes().size()));

  const std::vector<uint8_t> zeros(alignment_, 0);
  std::vector<uint8_t> scratch;  // [largest lazy tensor's bytes], reused
  for (const PendingTensor& t : tensors_) {
    const uint8_t* bytes = t.data.data();
    if (t.fill) {
      scratch.assign(t.n_bytes, 0);
      Status s = t.fill(scratch.data(), t.n_bytes);
      if (!s.is_ok()) return s.with_context("filling tensor '" + t.name + "'");
      bytes = scratch.data();
    }
    HEARTH_RETURN_IF_ERROR(sink(bytes, t.n_bytes));
    size_t pad = pad_to(t.n_bytes, alignment_) - t.n_bytes;
    if (pad) HEARTH_RETURN_IF_ERROR(sink(zeros.data(), pad));
  }
  return Status::ok();
}

Result<std::vector<uint8_t>> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out;
  HEARTH_RETURN_IF_ERROR(serialize([&](const uint8_t* p, size_t n) {
    out.insert(out.end(), p, p + n);
    return Status::ok();
  }));
  return out;
}

Status GgufWriter::write_file(const std::string& path) const {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) return errno_error("cannot create temp file", tmp);
  auto fail = [&](Status s) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  // mkstemp creates 0600; models are ordinary shareable files.
  if (fchmod(fd, 0644) != 0) return fail(errno_error("cannot chmod", tmp));
  auto write_all = [&](const uint8_t* p, size_t n) -> Status {
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return errno_error("cannot write", tmp);
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Status::ok();
  };
  // Small pieces (padding, small tensors) are batched; big ones go straight to the file.
  std::vector<uint8_t> buffer;
  constexpr size_t kBufferBytes = 1 << 20;
  buffer.reserve(kBufferBytes);
  auto sink = [&](const uint8_t* p, size_t n) -> Status {
    if (buffer.size() + n > kBufferBytes) {
      HEARTH_RETURN_IF_ERROR(write_all(buffer.data(), buffer.size()));
      buffer.clear();
    }
    if (n >= kBufferBytes) return write_all(p, n);
    buffer.insert(buffer.end(), p, p + n);
    return Status::ok();
  };
  Status s = serialize(sink);
  if (s.is_ok()) s = write_all(buffer.data(), buffer.size());
  if (!s.is_ok()) return fail(s);
  if (fsync(fd) != 0) return fail(errno_error("cannot flush", tmp));
  if (::close(fd) != 0) {
    Status c = errno_error("cannot close", tmp);
    ::unlink(tmp.c_str());
    return c;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status r = errno_error("cannot rename onto", path);
    ::unlink(tmp.c_str());
    return r;
  }
  return Status::ok();
}

}  // namespace hearth::gguf
