// GGUF reader: parses and validates a GGUF v2/v3 image (header, metadata, tensor infos) and
// exposes tensor data zero-copy. Every length and count read from the file is checked against
// the bytes that remain before anything is allocated, so hostile files fail with a message.
#include "gguf/gguf_file.h"

#include <cinttypes>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace hearth::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kDefaultAlignment = 32;
constexpr size_t kMaxTensorName = 63;  // ggml: GGML_MAX_NAME (64) including the terminator
constexpr int kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;  // nested arrays deeper than this are rejected (stack)

// Bytes an element of `type` occupies at minimum, used to bound counts before allocating.
size_t min_encoded_size(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString:  // u64 length
      return 8;
    case ValueType::kArray:  // u32 type + u64 count
      return 12;
  }
  return 1;
}

bool is_valid_value_type(uint32_t t) {
  return t <= static_cast<uint32_t>(ValueType::kFloat64);
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t limit, uint64_t* out) {
  if (a != 0 && b > limit / a) return true;
  *out = a * b;
  return false;
}

std::string quote_abbrev(const std::string& s, size_t max_len) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : s) {
    if (n++ >= max_len) {
      out += "...";
      break;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += str_format("\\x%02x", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string type_description(const Value& v) {
  if (v.type == ValueType::kArray) {
    return std::string("array[") + value_type_name(v.array_type) + "]";
  }
  return value_type_name(v.type);
}

}  // namespace

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
      return "u8";
    case ValueType::kInt8:
      return "i8";
    case ValueType::kUint16:
      return "u16";
    case ValueType::kInt16:
      return "i16";
    case ValueType::kUint32:
      return "u32";
    case ValueType::kInt32:
      return "i32";
    case ValueType::kFloat32:
      return "f32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kUint64:
      return "u64";
    case ValueType::kInt64:
      return "i64";
    case ValueType::kFloat64:
      return "f64";
  }
  return "unknown";
}

// ---- Value ----------------------------------------------------------------------------------

bool Value::is_integer() const {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kUint16:
    case ValueType::kInt16:
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kUint64:
    case ValueType::kInt64:
      return true;
    default:
      return false;
  }
}

static bool is_signed_type(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
         t == ValueType::kInt64;
}

std::optional<uint64_t> Value::as_u64() const {
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type)) {
    if (i < 0) return std::nullopt;
    return static_cast<uint64_t>(i);
  }
  return u;
}

std::optional<int64_t> Value::as_i64() const {
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type)) return i;
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(u);
}

std::optional<double> Value::as_f64() const {
  if (is_float()) return f;
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type)) return static_cast<double>(i);
  return static_cast<double>(u);
}

std::optional<bool> Value::as_bool() const {
  if (type == ValueType::kBool) return u != 0;
  if (is_integer()) {
    auto v = as_u64();
    if (v && *v <= 1) return *v == 1;
  }
  return std::nullopt;
}

std::string Value::to_display_string(size_t max_array_items) const {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kUint16:
    case ValueType::kUint32:
    case ValueType::kUint64:
      return std::to_string(u);
    case ValueType::kInt8:
    case ValueType::kInt16:
    case ValueType::kInt32:
    case ValueType::kInt64:
      return std::to_string(i);
    case ValueType::kFloat32:
    case ValueType::kFloat64:
      return str_format("%.9g", f);
    case ValueType::kBool:
      return u ? "true" : "false";
    case ValueType::kString:
      return quote_abbrev(str, 80);
    case ValueType::kArray: {
      std::string out = str_format("[%s x %zu] [", value_type_name(array_type), array.size());
      for (size_t k = 0; k < array.size() && k < max_array_items; ++k) {
        if (k) out += ", ";
        // Nested elements get a tighter budget so one line stays readable.
        out += array[k].type == ValueType::kString ? quote_abbrev(array[k].str, 24)
                                                   : array[k].to_display_string(3);
      }
      if (array.size() > max_array_items) out += ", ...";
      out += "]";
      return out;
    }
  }
  return "?";
}

// ---- Parser -----------------------------------------------------------------------------------

class Parser {
 public:
  Parser(const uint8_t* base, size_t size, GgufFile* out) : base_(base), size_(size), out_(out) {}

  Status parse() {
    out_->base_ = base_;
    out_->size_ = size_;
    context_ = "header";
    uint32_t magic = 0;
    HEARTH_RETURN_IF_ERROR(read_pod(&magic, "magic"));
    if (magic != kMagic) {
      return corrupt_data_error(
          str_format("not a GGUF file: bad magic %02x %02x %02x %02x at offset 0 (expected 'GGUF')",
                     base_[0], base_[1], base_[2], base_[3]));
    }
    uint32_t version = 0;
    HEARTH_RETURN_IF_ERROR(read_pod(&version, "version"));
    if ((version & 0xFFFFu) == 0 && version != 0) {
      uint32_t swapped = __builtin_bswap32(version);
      if (swapped >= 1 && swapped <= 3) {
        return unsupported_error(str_format(
            "big-endian GGUF (version field %08x at offset 4) is not supported", version));
      }
    }
    if (version == 1) {
      return unsupported_error(
          "GGUF version 1 (offset 4) is obsolete and not supported; re-convert the model");
    }
    if (version != 2 && version != 3) {
      return unsupported_error(str_format(
          "unsupported GGUF version %" PRIu32 " at offset 4 (supported: 2, 3)", version));
    }
    out_->version_ = version;

    uint64_t tensor_count = 0, kv_count = 0;
    HEARTH_RETURN_IF_ERROR(read_pod(&tensor_count, "tensor count"));
    HEARTH_RETURN_IF_ERROR(read_pod(&kv_count, "metadata count"));
    // Minimal sizes: kv = key length + type + 1-byte value; tensor info = name length + n_dims +
    // one ne + type + offset.
    HEARTH_RETURN_IF_ERROR(check_count(kv_count, 8 + 4 + 1, 16, "metadata count"));
    HEARTH_RETURN_IF_ERROR(check_count(tensor_count, 8 + 4 + 8 + 4 + 8, 8, "tensor count"));

    HEARTH_RETURN_IF_ERROR(parse_metadata(kv_count));
    HEARTH_RETURN_IF_ERROR(parse_alignment());
    HEARTH_RETURN_IF_ERROR(parse_tensor_infos(tensor_count));
    return place_tensor_data();
  }

 private:
  Status truncated(size_t n, const char* what) const {
    return corrupt_data_error(
        str_format("truncated file: %s at offset %zu needs %zu bytes but only %zu remain (file "
                   "size %zu) in %s",
                   what, pos_, n, size_ - pos_, size_, context_.c_str()));
  }

  Status corrupt_at(size_t offset, const std::string& problem) const {
    return corrupt_data_error(
        str_format("%s at offset %zu in %s", problem.c_str(), offset, context_.c_str()));
  }

  size_t remaining() const { return size_ - pos_; }

  // `count` items of at least `min_size` bytes each must fit in what is left of the file.
  Status check_count(uint64_t count, size_t min_size, size_t field_size, const char* what) const {
    if (count > remaining() / min_size) {
      return corrupt_at(pos_ - field_size,
                        str_format("%s %" PRIu64 " is impossible: only %zu bytes remain", what,
                                   count, remaining()));
    }
    return Status::ok();
  }

  template <typename T>
  Status read_pod(T* v, const char* what) {
    if (remaining() < sizeof(T)) return truncated(sizeof(T), what);
    std::memcpy(v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::ok();
  }

  Status read_string(std::string* s, const char* what) {
    uint64_t len = 0;
    size_t at = pos_;
    HEARTH_RETURN_IF_ERROR(read_pod(&len, what));
    if (len > remaining()) {
      return corrupt_at(at, str_format("%s length %" PRIu64 " exceeds the %zu bytes that remain",
                                       what, len, remaining()));
    }
    s->assign(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return Status::ok();
  }

  Status read_value(ValueType type, Value* v, int depth) {
    v->type = type;
    switch (type) {
      case ValueType::kUint8: {
        uint8_t x = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&x, "u8 value"));
        v->u = x;
        return Status::ok();
      }
      case ValueType::kInt8: {
        int8_t x = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&x, "i8 value"));
        v->i = x;
        return Status::ok();
      }
      case ValueType::kUint16: {
        uint16_t x = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&x, "u16 value"));
        v->u = x;
        return Status::ok();
      }
      case ValueType::kInt16: {
        int16_t x = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&x, "i16 value"));
        v->i = x;
        return Status::ok();
      }
      case ValueType::kUint32: {
        uint32_t x = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&x, "u32 value"));
        v->u = x;
        return Status::ok();
      }
      case ValueType::kInt32: {
        int32_t x = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&x, "i32 value"));
        v->i = x;
        return Status::ok();
      }
      case ValueType::kFloat32: {
        float x = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&x, "f32 value"));
        v->f = x;
        return Status::ok();
      }
      case ValueType::kBool: {
        uint8_t x = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&x, "bool value"));
        v->u = x != 0;  // ggml writes 0/1; any other byte is read as true
        return Status::ok();
      }
      case ValueType::kString:
        return read_string(&v->str, "string value");
      case ValueType::kUint64:
        return read_pod(&v->u, "u64 value");
      case ValueType::kInt64:
        return read_pod(&v->i, "i64 value");
      case ValueType::kFloat64:
        return read_pod(&v->f, "f64 value");
      case ValueType::kArray: {
        size_t at = pos_;
        uint32_t elem_type = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&elem_type, "array element type"));
        if (!is_valid_value_type(elem_type)) {
          return corrupt_at(at, str_format("unknown array element type %" PRIu32, elem_type));
        }
        if (elem_type == static_cast<uint32_t>(ValueType::kArray) && depth >= kMaxArrayDepth) {
          return corrupt_at(at, str_format("arrays nested deeper than %d levels", kMaxArrayDepth));
        }
        v->array_type = static_cast<ValueType>(elem_type);
        uint64_t count = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&count, "array count"));
        HEARTH_RETURN_IF_ERROR(
            check_count(count, min_encoded_size(v->array_type), 8, "array element count"));
        v->array.resize(static_cast<size_t>(count));
        for (Value& elem : v->array) {
          HEARTH_RETURN_IF_ERROR(read_value(v->array_type, &elem, depth + 1));
        }
        return Status::ok();
      }
    }
    return internal_error("unreachable value type");
  }

  Status parse_metadata(uint64_t kv_count) {
    auto& md = out_->metadata_;
    md.reserve(static_cast<size_t>(kv_count));
    std::unordered_set<std::string> seen;
    for (uint64_t k = 0; k < kv_count; ++k) {
      context_ = str_format("metadata entry #%" PRIu64, k);
      size_t key_at = pos_;
      std::string key;
      HEARTH_RETURN_IF_ERROR(read_string(&key, "metadata key"));
      context_ = str_format("metadata entry #%" PRIu64 " '%s'", k, key.c_str());
      if (!seen.insert(key).second) {
        return corrupt_at(key_at, "duplicate metadata key '" + key + "'");
      }
      size_t type_at = pos_;
      uint32_t type = 0;
      HEARTH_RETURN_IF_ERROR(read_pod(&type, "metadata value type"));
      if (!is_valid_value_type(type)) {
        return corrupt_at(type_at, str_format("unknown metadata value type %" PRIu32, type));
      }
      if (key == "general.alignment") alignment_value_at_ = pos_;
      md.emplace_back(std::move(key), Value{});
      HEARTH_RETURN_IF_ERROR(read_value(static_cast<ValueType>(type), &md.back().second, 0));
    }
    return Status::ok();
  }

  Status parse_alignment() {
    context_ = "metadata 'general.alignment'";
    out_->alignment_ = kDefaultAlignment;
    const Value* v = out_->find("general.alignment");
    if (!v) return Status::ok();
    if (v->type != ValueType::kUint32) {
      return corrupt_at(alignment_value_at_,
                        str_format("general.alignment has type %s; it must be u32",
                                   type_description(*v).c_str()));
    }
    if (v->u == 0 || (v->u & (v->u - 1)) != 0) {
      return corrupt_at(alignment_value_at_,
                        str_format("general.alignment %" PRIu64 " is not a power of two", v->u));
    }
    out_->alignment_ = static_cast<uint32_t>(v->u);
    return Status::ok();
  }

  Status parse_tensor_infos(uint64_t tensor_count) {
    auto& tensors = out_->tensors_;
    tensors.reserve(static_cast<size_t>(tensor_count));
    std::unordered_set<std::string> seen;
    const uint64_t alignment = out_->alignment_;
    for (uint64_t t = 0; t < tensor_count; ++t) {
      context_ = str_format("tensor info #%" PRIu64, t);
      TensorInfo info;
      size_t name_at = pos_;
      HEARTH_RETURN_IF_ERROR(read_string(&info.name, "tensor name"));
      context_ = str_format("tensor info #%" PRIu64 " '%s'", t, info.name.c_str());
      if (info.name.size() > kMaxTensorName) {
        return corrupt_at(name_at, str_format("tensor name is %zu bytes long (limit %zu)",
                                              info.name.size(), kMaxTensorName));
      }
      if (!seen.insert(info.name).second) {
        return corrupt_at(name_at, "duplicate tensor name '" + info.name + "'");
      }
      size_t dims_at = pos_;
      uint32_t n_dims = 0;
      HEARTH_RETURN_IF_ERROR(read_pod(&n_dims, "tensor n_dims"));
      if (n_dims < 1 || n_dims > kMaxDims) {
        return corrupt_at(dims_at, str_format("tensor '%s' has n_dims %" PRIu32 " (must be 1..4)",
                                              info.name.c_str(), n_dims));
      }
      info.n_dims = static_cast<int>(n_dims);
      for (uint32_t d = 0; d < n_dims; ++d) {
        size_t ne_at = pos_;
        uint64_t ne = 0;
        HEARTH_RETURN_IF_ERROR(read_pod(&ne, "tensor dimension"));
        if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return corrupt_at(ne_at, str_format("tensor '%s' has negative ne[%" PRIu32 "] %" PRId64,
                                              info.name.c_str(), d, static_cast<int64_t>(ne)));
        }
        info.ne[d] = static_cast<int64_t>(ne);
      }
      size_t type_at = pos_;
      uint32_t type_id = 0;
      HEARTH_RETURN_IF_ERROR(read_pod(&type_id, "tensor type"));
      auto tr = dtype_traits(type_id);
      if (!tr) {
        return corrupt_at(type_at, str_format("tensor '%s' has unknown ggml type id %" PRIu32,
                                              info.name.c_str(), type_id));
      }
      info.type = static_cast<DType>(type_id);
      size_t offset_at = pos_;
      HEARTH_RETURN_IF_ERROR(read_pod(&info.offset, "tensor data offset"));

      if (info.ne[0] % tr->block_size != 0) {
        return corrupt_at(dims_at,
                          str_format("tensor '%s' has ne[0] %" PRId64
                                     ", not a multiple of the %s block size %" PRId64,
                                     info.name.c_str(), info.ne[0], tr->name, tr->block_size));
      }
      uint64_t n_elements = 1;
      uint64_t n_bytes = 0;
      const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      bool overflow = mul_overflows(static_cast<uint64_t>(info.ne[0] / tr->block_size),
                                    tr->type_size, limit, &n_bytes);
      for (int d = 0; d < kMaxDims && !overflow; ++d) {
        overflow = mul_overflows(n_elements, static_cast<uint64_t>(info.ne[d]), limit, &n_elements);
        if (d > 0 && !overflow) {
          overflow = mul_overflows(n_bytes, static_cast<uint64_t>(info.ne[d]), limit, &n_bytes);
        }
      }
      if (overflow) {
        return corrupt_at(
            dims_at, str_format("tensor '%s' shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                                "] overflows the element or byte count",
                                info.name.c_str(), info.ne[0], info.ne[1], info.ne[2], info.ne[3]));
      }
      info.n_elements = n_elements;
      info.n_bytes = static_cast<size_t>(n_bytes);
      if (info.offset % alignment != 0) {
        return corrupt_at(offset_at, str_format("tensor '%s' data offset %" PRIu64
                                                " is not a multiple of the alignment %" PRIu64,
                                                info.name.c_str(), info.offset, alignment));
      }
      tensors.push_back(std::move(info));
    }
    return Status::ok();
  }

  Status place_tensor_data() {
    context_ = "data section";
    const uint64_t alignment = out_->alignment_;
    uint64_t data_offset = (static_cast<uint64_t>(pos_) + alignment - 1) / alignment * alignment;
    out_->data_offset_ = data_offset;
    if (out_->tensors_.empty()) return Status::ok();  // a vocab-only file may omit the padding
    if (data_offset > size_) {
      return corrupt_data_error(str_format("truncated file: data section starts at offset %" PRIu64
                                           " past end of file (size %zu)",
                                           data_offset, size_));
    }
    for (TensorInfo& info : out_->tensors_) {
      if (info.offset > size_ - data_offset) {
        return corrupt_data_error(str_format("tensor '%s' data offset %" PRIu64
                                             " (data section at %" PRIu64
                                             ") extends past end of file (size %zu)",
                                             info.name.c_str(), info.offset, data_offset, size_));
      }
      uint64_t begin = data_offset + info.offset;  // <= size_, no overflow
      if (info.n_bytes > size_ - begin) {
        return corrupt_data_error(str_format(
            "tensor '%s' data [%" PRIu64 ", %" PRIu64 ") extends past end of file (size %zu)",
            info.name.c_str(), begin, begin + static_cast<uint64_t>(info.n_bytes), size_));
      }
      info.data = base_ + begin;
    }
    return Status::ok();
  }

  const uint8_t* base_;
  size_t size_;
  GgufFile* out_;
  size_t pos_ = 0;
  std::string context_;            // what is being parsed, for error messages
  size_t alignment_value_at_ = 0;  // file offset of general.alignment's value
};

// ---- GgufFile ---------------------------------------------------------------------------------

Result<GgufFile> GgufFile::from_memory(const uint8_t* data, size_t size) {
  static const uint8_t kEmpty[1] = {0};
  GgufFile file;
  Parser parser(data ? data : kEmpty, data ? size : 0, &file);
  HEARTH_RETURN_IF_ERROR(parser.parse());
  return file;
}

Result<GgufFile> GgufFile::open(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::open(path));
  auto mapping = std::make_shared<MappedFile>(std::move(mapped));
  GgufFile file;
  file.mapping_ = mapping;
  file.path_ = path;
  Parser parser(mapping->data(), mapping->size(), &file);
  Status s = parser.parse();
  if (!s.is_ok()) return s.with_context("'" + path + "'");
  return file;
}

const Value* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void GgufFile::release_pages(const void* p, size_t n) const {
  if (mapping_) mapping_->advise_dontneed(p, n);
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const TensorInfo& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

Result<const Value*> lookup(const GgufFile& file, std::string_view key) {
  const Value* v = file.find(key);
  if (!v)
    return not_found_error(
        str_format("metadata key '%.*s' not found", static_cast<int>(key.size()), key.data()));
  return v;
}

Status wrong_type(std::string_view key, const char* wanted, const Value& v) {
  return invalid_argument_error(str_format("metadata key '%.*s' has type %s, wanted %s",
                                           static_cast<int>(key.size()), key.data(),
                                           type_description(v).c_str(), wanted));
}

}  // namespace

Result<std::string> GgufFile::get_string(std::string_view key) const {
  HEARTH_ASSIGN_OR_RETURN(const Value* v, lookup(*this, key));
  if (v->type != ValueType::kString) return wrong_type(key, "string", *v);
  return v->str;
}

Result<uint64_t> GgufFile::get_u64(std::string_view key) const {
  HEARTH_ASSIGN_OR_RETURN(const Value* v, lookup(*this, key));
  auto x = v->as_u64();
  if (!x) {
    if (v->is_integer()) {
      return invalid_argument_error(str_format("metadata key '%.*s' is negative (%" PRId64
                                               "), wanted a non-negative integer",
                                               static_cast<int>(key.size()), key.data(), v->i));
    }
    return wrong_type(key, "non-negative integer", *v);
  }
  return *x;
}

Result<int64_t> GgufFile::get_i64(std::string_view key) const {
  HEARTH_ASSIGN_OR_RETURN(const Value* v, lookup(*this, key));
  auto x = v->as_i64();
  if (!x) {
    if (v->is_integer()) {
      return invalid_argument_error(str_format("metadata key '%.*s' value %" PRIu64
                                               " does not fit in i64",
                                               static_cast<int>(key.size()), key.data(), v->u));
    }
    return wrong_type(key, "integer", *v);
  }
  return *x;
}

Result<double> GgufFile::get_f64(std::string_view key) const {
  HEARTH_ASSIGN_OR_RETURN(const Value* v, lookup(*this, key));
  auto x = v->as_f64();
  if (!x) return wrong_type(key, "number", *v);
  return *x;
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  HEARTH_ASSIGN_OR_RETURN(const Value* v, lookup(*this, key));
  auto x = v->as_bool();
  if (!x) return wrong_type(key, "bool", *v);
  return *x;
}

Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  HEARTH_ASSIGN_OR_RETURN(const Value* v, lookup(*this, key));
  if (v->type != ValueType::kArray || v->array_type != ValueType::kString) {
    return wrong_type(key, "array[string]", *v);
  }
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const Value& e : v->array) out.push_back(e.str);
  return out;
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  HEARTH_ASSIGN_OR_RETURN(const Value* v, lookup(*this, key));
  if (v->type != ValueType::kArray) return wrong_type(key, "array of integers", *v);
  Value probe;
  probe.type = v->array_type;
  if (!probe.is_integer()) return wrong_type(key, "array of integers", *v);
  std::vector<int64_t> out;
  out.reserve(v->array.size());
  for (size_t k = 0; k < v->array.size(); ++k) {
    auto x = v->array[k].as_i64();
    if (!x) {
      return invalid_argument_error(str_format("metadata key '%.*s' element %zu does not fit i64",
                                               static_cast<int>(key.size()), key.data(), k));
    }
    out.push_back(*x);
  }
  return out;
}

Result<std::vector<double>> GgufFile::get_float_array(std::string_view key) const {
  HEARTH_ASSIGN_OR_RETURN(const Value* v, lookup(*this, key));
  if (v->type != ValueType::kArray) return wrong_type(key, "array of numbers", *v);
  Value probe;
  probe.type = v->array_type;
  if (!probe.is_integer() && !probe.is_float()) return wrong_type(key, "array of numbers", *v);
  std::vector<double> out;
  out.reserve(v->array.size());
  for (const Value& e : v->array) out.push_back(*e.as_f64());
  return out;
}

}  // namespace hearth::gguf
