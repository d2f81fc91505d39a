// GGUF writer -> reader round trips (every metadata type, nested arrays, alignments, tensor
// types, lazy tensors, atomic files), typed getters, and the real llama.cpp-written vocab file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>

#include "gguf/gguf_file.h"
#include "gguf/gguf_test_util.h"
#include "gguf/gguf_writer.h"

namespace hearth::gguf {
namespace {

using testing::values_equal;

Value make_scalar(ValueType type, uint64_t u, int64_t i, double f) {
  Value v;
  v.type = type;
  v.u = u;
  v.i = i;
  v.f = f;
  return v;
}

Value make_uint(ValueType type, uint64_t u) {
  return make_scalar(type, u, 0, 0);
}
Value make_int(ValueType type, int64_t i) {
  return make_scalar(type, 0, i, 0);
}
Value make_float(ValueType type, double f) {
  return make_scalar(type, 0, 0, f);
}
Value make_string(const std::string& s) {
  Value v;
  v.type = ValueType::kString;
  v.str = s;
  return v;
}
Value make_array(ValueType elem, std::vector<Value> items) {
  Value v;
  v.type = ValueType::kArray;
  v.array_type = elem;
  v.array = std::move(items);
  return v;
}

// One value of every scalar type at an extreme, plus arrays of each and nested arrays.
std::vector<std::pair<std::string, Value>> all_type_metadata() {
  std::vector<std::pair<std::string, Value>> md;
  md.emplace_back("t.u8", make_uint(ValueType::kUint8, 255));
  md.emplace_back("t.i8", make_int(ValueType::kInt8, -128));
  md.emplace_back("t.u16", make_uint(ValueType::kUint16, 65535));
  md.emplace_back("t.i16", make_int(ValueType::kInt16, -32768));
  md.emplace_back("t.u32", make_uint(ValueType::kUint32, 4294967295u));
  md.emplace_back("t.i32", make_int(ValueType::kInt32, std::numeric_limits<int32_t>::min()));
  md.emplace_back("t.f32", make_float(ValueType::kFloat32, 1e-6f));
  md.emplace_back("t.bool", make_uint(ValueType::kBool, 1));
  md.emplace_back("t.string", make_string(std::string("h\xc3\xa9llo\0world", 12)));
  md.emplace_back("t.empty_string", make_string(""));
  md.emplace_back("t.u64", make_uint(ValueType::kUint64, std::numeric_limits<uint64_t>::max()));
  md.emplace_back("t.i64", make_int(ValueType::kInt64, std::numeric_limits<int64_t>::min()));
  md.emplace_back("t.f64", make_float(ValueType::kFloat64, -3.141592653589793));
  md.emplace_back("t.arr_u8", make_array(ValueType::kUint8, {make_uint(ValueType::kUint8, 1),
                                                             make_uint(ValueType::kUint8, 200)}));
  md.emplace_back("t.arr_i16", make_array(ValueType::kInt16, {make_int(ValueType::kInt16, -5)}));
  md.emplace_back("t.arr_u64",
                  make_array(ValueType::kUint64, {make_uint(ValueType::kUint64, 1ull << 63)}));
  md.emplace_back("t.arr_f64",
                  make_array(ValueType::kFloat64, {make_float(ValueType::kFloat64, 0.5),
                                                   make_float(ValueType::kFloat64, -1e300)}));
  md.emplace_back("t.arr_bool", make_array(ValueType::kBool, {make_uint(ValueType::kBool, 0),
                                                              make_uint(ValueType::kBool, 1)}));
  md.emplace_back("t.arr_empty", make_array(ValueType::kString, {}));
  md.emplace_back(
      "t.nested",
      make_array(
          ValueType::kArray,
          {make_array(ValueType::kInt32,
                      {make_int(ValueType::kInt32, -1), make_int(ValueType::kInt32, 2)}),
           make_array(ValueType::kString, {make_string("a"), make_string("")}),
           make_array(ValueType::kArray,
                      {make_array(ValueType::kFloat32, {make_float(ValueType::kFloat32, 2.5)})})}));
  return md;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

struct TensorSpec {
  std::string name;
  DType type;
  std::vector<int64_t> ne;
};

const std::vector<TensorSpec>& tensor_specs() {
  static const std::vector<TensorSpec> specs = {
      {"f32.vec", DType::kF32, {7}},
      {"f16.mat", DType::kF16, {5, 3}},
      {"q4_0.mat", DType::kQ4_0, {64, 3}},
      {"q8_0.3d", DType::kQ8_0, {32, 2, 3}},
      {"q4_K.4d", DType::kQ4_K, {256, 1, 2, 2}},
      {"bf16.empty", DType::kBF16, {0, 4}},
      {"iq2_xxs.known_unsupported", DType::kIQ2_XXS, {256, 2}},
      {"q6_K.last", DType::kQ6_K, {512, 1}},
  };
  return specs;
}

size_t spec_bytes(const TensorSpec& s) {
  size_t n = row_bytes(s.type, s.ne[0]);
  for (size_t d = 1; d < s.ne.size(); ++d) n *= static_cast<size_t>(s.ne[d]);
  return n;
}

void check_metadata(const GgufFile& file, const std::vector<std::pair<std::string, Value>>& md) {
  for (const auto& [key, value] : md) {
    const Value* got = file.find(key);
    ASSERT_NE(got, nullptr) << key;
    EXPECT_TRUE(values_equal(*got, value)) << key << ": " << got->to_display_string();
  }
}

class RoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(RoundTrip, AllTypesAndTensors) {
  const uint32_t alignment = GetParam();
  GgufWriter writer(alignment);
  auto md = all_type_metadata();
  for (const auto& [k, v] : md) writer.set(k, v);
  std::vector<std::vector<uint8_t>> payloads;
  for (size_t t = 0; t < tensor_specs().size(); ++t) {
    const TensorSpec& s = tensor_specs()[t];
    payloads.push_back(random_bytes(spec_bytes(s), static_cast<uint32_t>(t + 1)));
    ASSERT_TRUE(
        writer.add_tensor(s.name, s.type, s.ne, payloads.back().data(), payloads.back().size())
            .is_ok());
  }
  auto bytes = writer.to_bytes();
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  auto file = GgufFile::from_memory(bytes->data(), bytes->size());
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();

  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), alignment);
  EXPECT_EQ(file->data_offset() % alignment, 0u);
  check_metadata(*file, md);
  // Metadata keeps insertion order; the writer appends general.alignment only when not 32.
  ASSERT_EQ(file->metadata().size(), md.size() + (alignment != 32 ? 1 : 0));
  for (size_t k = 0; k < md.size(); ++k) EXPECT_EQ(file->metadata()[k].first, md[k].first);
  if (alignment != 32) {
    EXPECT_EQ(*file->get_u64("general.alignment"), alignment);
  }

  ASSERT_EQ(file->tensors().size(), tensor_specs().size());
  uint64_t expected_offset = 0;
  for (size_t t = 0; t < tensor_specs().size(); ++t) {
    const TensorSpec& s = tensor_specs()[t];
    const TensorInfo& info = file->tensors()[t];
    EXPECT_EQ(info.name, s.name);
    EXPECT_EQ(info.type, s.type);
    EXPECT_EQ(info.n_dims, static_cast<int>(s.ne.size()));
    uint64_t n_elements = 1;
    for (int d = 0; d < 4; ++d) {
      int64_t want = d < static_cast<int>(s.ne.size()) ? s.ne[d] : 1;
      EXPECT_EQ(info.ne[d], want) << s.name << " dim " << d;
      n_elements *= static_cast<uint64_t>(want);
    }
    EXPECT_EQ(info.n_elements, n_elements);
    EXPECT_EQ(info.n_bytes, payloads[t].size());
    // llama.cpp layout: each tensor starts where the previous one's padded bytes end.
    EXPECT_EQ(info.offset, expected_offset) << s.name;
    expected_offset += (info.n_bytes + alignment - 1) / alignment * alignment;
    EXPECT_EQ(info.data, bytes->data() + file->data_offset() + info.offset);
    if (!payloads[t].empty()) {
      EXPECT_EQ(0, std::memcmp(info.data, payloads[t].data(), payloads[t].size())) << s.name;
    }
    EXPECT_EQ(file->find_tensor(s.name), &info);
  }
  EXPECT_EQ(bytes->size(), file->data_offset() + expected_offset);
  EXPECT_EQ(file->find_tensor("missing"), nullptr);

  // Header bytes exactly as gguf.h describes them.
  EXPECT_EQ(0, std::memcmp(bytes->data(), "GGUF", 4));
  uint32_t version;
  uint64_t n_tensors, n_kv;
  std::memcpy(&version, bytes->data() + 4, 4);
  std::memcpy(&n_tensors, bytes->data() + 8, 8);
  std::memcpy(&n_kv, bytes->data() + 16, 8);
  EXPECT_EQ(version, 3u);
  EXPECT_EQ(n_tensors, tensor_specs().size());
  EXPECT_EQ(n_kv, file->metadata().size());
}

INSTANTIATE_TEST_SUITE_P(Alignments, RoundTrip, ::testing::Values(32u, 64u, 16u));

TEST(GgufWriter, SetReplacesInPlace) {
  GgufWriter w;
  w.set_u32("a", 1);
  w.set_string("b", "x");
  w.set_u32("a", 7);
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.is_ok());
  auto f = GgufFile::from_memory(bytes->data(), bytes->size());
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_EQ(f->metadata().size(), 2u);
  EXPECT_EQ(f->metadata()[0].first, "a");
  EXPECT_EQ(*f->get_u64("a"), 7u);
  EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufWriter, TypedSettersRoundTrip) {
  GgufWriter w;
  w.set_string("s", "qwen35");
  w.set_u32("u32", 123);
  w.set_i32("i32", -5);
  w.set_u64("u64", 1ull << 40);
  w.set_f32("f32", 0.25f);
  w.set_bool("b", true);
  w.set_string_array("sa", {"a", "b c", ""});
  w.set_i32_array("ia", {1, -2, 3});
  w.set_f32_array("fa", {0.5f, -1.5f});
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.is_ok());
  auto f = GgufFile::from_memory(bytes->data(), bytes->size());
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(*f->get_string("s"), "qwen35");
  EXPECT_EQ(f->find("u32")->type, ValueType::kUint32);
  EXPECT_EQ(*f->get_u64("u32"), 123u);
  EXPECT_EQ(*f->get_i64("i32"), -5);
  EXPECT_EQ(f->find("i32")->type, ValueType::kInt32);
  EXPECT_EQ(*f->get_u64("u64"), 1ull << 40);
  EXPECT_EQ(*f->get_f64("f32"), 0.25);
  EXPECT_EQ(*f->get_bool("b"), true);
  EXPECT_EQ(*f->get_string_array("sa"), (std::vector<std::string>{"a", "b c", ""}));
  EXPECT_EQ(*f->get_int_array("ia"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(*f->get_float_array("fa"), (std::vector<double>{0.5, -1.5}));
}

TEST(GgufFile, GetterErrorsNameKeyAndTypes) {
  GgufWriter w;
  w.set_i32("neg", -1);
  w.set_string("name", "x");
  w.set_u64("big", std::numeric_limits<uint64_t>::max());
  w.set_f32_array("fa", {1.0f});
  Value u8arr = make_array(ValueType::kUint8, {make_uint(ValueType::kUint8, 9)});
  w.set("u8arr", u8arr);
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.is_ok());
  auto f = GgufFile::from_memory(bytes->data(), bytes->size());
  ASSERT_TRUE(f.is_ok());

  auto missing = f->get_string("nope");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos);

  auto wrong = f->get_u64("name");
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_NE(wrong.status().message().find("'name'"), std::string::npos);
  EXPECT_NE(wrong.status().message().find("string"), std::string::npos);
  EXPECT_NE(wrong.status().message().find("wanted"), std::string::npos);

  auto s = f->get_string("neg");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("has type i32, wanted string"), std::string::npos)
      << s.status().message();

  EXPECT_FALSE(f->get_u64("neg").is_ok());
  EXPECT_EQ(*f->get_i64("neg"), -1);
  EXPECT_EQ(*f->get_f64("neg"), -1.0);
  EXPECT_FALSE(f->get_i64("big").is_ok());
  EXPECT_EQ(*f->get_u64("big"), std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(f->get_bool("name").is_ok());
  EXPECT_FALSE(f->get_int_array("fa").is_ok());
  auto sa = f->get_string_array("fa");
  ASSERT_FALSE(sa.is_ok());
  EXPECT_NE(sa.status().message().find("array[f32]"), std::string::npos) << sa.status().message();
  EXPECT_EQ(*f->get_int_array("u8arr"), (std::vector<int64_t>{9}));
  EXPECT_EQ(*f->get_float_array("u8arr"), (std::vector<double>{9.0}));
  EXPECT_FALSE(f->get_i64("fa").is_ok());
}

TEST(Value, ConversionsAreLossless) {
  EXPECT_EQ(make_int(ValueType::kInt8, -3).as_u64(), std::nullopt);
  EXPECT_EQ(make_int(ValueType::kInt8, 3).as_u64(), 3u);
  EXPECT_EQ(make_float(ValueType::kFloat32, 1.0).as_i64(), std::nullopt);
  EXPECT_EQ(make_uint(ValueType::kUint16, 7).as_f64(), 7.0);
  EXPECT_EQ(make_string("1").as_u64(), std::nullopt);
  EXPECT_EQ(make_uint(ValueType::kBool, 1).as_bool(), true);
  EXPECT_EQ(make_uint(ValueType::kBool, 1).as_u64(), std::nullopt);
  EXPECT_TRUE(make_int(ValueType::kInt64, 0).is_integer());
  EXPECT_FALSE(make_uint(ValueType::kBool, 0).is_integer());
}

TEST(Value, DisplayAbbreviatesArrays) {
  std::vector<Value> items;
  for (int k = 0; k < 100; ++k) items.push_back(make_int(ValueType::kInt32, k));
  std::string s = make_array(ValueType::kInt32, items).to_display_string(4);
  EXPECT_NE(s.find("100"), std::string::npos) << s;
  EXPECT_NE(s.find("0, 1, 2, 3"), std::string::npos) << s;
  EXPECT_NE(s.find("..."), std::string::npos) << s;
  EXPECT_EQ(s.find("99"), std::string::npos) << s;
  EXPECT_EQ(make_string("a\nb").to_display_string(), "\"a\\nb\"");
  EXPECT_EQ(make_uint(ValueType::kBool, 0).to_display_string(), "false");
}

TEST(GgufWriter, RejectsBadInput) {
  GgufWriter w;
  std::vector<uint8_t> data(64);
  EXPECT_TRUE(w.add_tensor("a", DType::kF32, {16}, data.data(), 64).is_ok());
  EXPECT_FALSE(w.add_tensor("a", DType::kF32, {16}, data.data(), 64).is_ok());  // duplicate
  EXPECT_FALSE(w.add_tensor("b", DType::kF32, {16}, data.data(), 60).is_ok());  // size mismatch
  EXPECT_FALSE(w.add_tensor("c", DType::kQ4_0, {16}, data.data(), 9).is_ok());  // ne0 % 32
  EXPECT_FALSE(w.add_tensor("d", DType::kF32, {1, 1, 1, 1, 16}, data.data(), 64).is_ok());
  EXPECT_FALSE(w.add_tensor("e", DType::kF32, {}, data.data(), 0).is_ok());
  EXPECT_FALSE(w.add_tensor("f", DType::kF32, {-16}, data.data(), 64).is_ok());
  EXPECT_FALSE(w.add_tensor(std::string(64, 'x'), DType::kF32, {16}, data.data(), 64).is_ok());
  EXPECT_FALSE(w.add_tensor("g", DType::kF32, {1ll << 40, 1ll << 40}, data.data(), 64).is_ok());
  EXPECT_FALSE(w.add_tensor_lazy("h", DType::kF32, {16}, nullptr).is_ok());

  GgufWriter mixed;
  Value bad = make_array(ValueType::kUint32, {make_string("not a u32")});
  mixed.set("bad", bad);
  auto r = mixed.to_bytes();
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'bad'"), std::string::npos);

  GgufWriter conflict(64);
  conflict.set_u32("general.alignment", 32);
  EXPECT_FALSE(conflict.to_bytes().is_ok());
  GgufWriter npot(48);
  EXPECT_FALSE(npot.to_bytes().is_ok());
}

std::string temp_dir() {
  auto dir =
      std::filesystem::temp_directory_path() / ("hearth_gguf_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

size_t count_files(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

TEST(GgufWriter, LazyTensorsStreamToFile) {
  std::string dir = temp_dir();
  std::string path = dir + "/lazy.gguf";
  GgufWriter w(64);
  w.set_string("general.architecture", "test");
  int calls = 0;
  ASSERT_TRUE(w.add_tensor_lazy("lazy", DType::kF32, {10, 3}, [&](uint8_t* dst, size_t n) {
                 ++calls;
                 EXPECT_EQ(n, 120u);
                 for (size_t k = 0; k < n / 4; ++k) {
                   float v = static_cast<float>(k) * 0.5f;
                   std::memcpy(dst + 4 * k, &v, 4);
                 }
                 return Status::ok();
               }).is_ok());
  std::vector<uint8_t> eager = random_bytes(34 * 2, 9);
  ASSERT_TRUE(w.add_tensor("eager", DType::kQ8_0, {32, 2}, eager.data(), eager.size()).is_ok());
  ASSERT_TRUE(w.write_file(path).is_ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(count_files(dir), 1u);  // no temp file left behind

  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->path(), path);
  EXPECT_EQ(f->alignment(), 64u);
  const TensorInfo* lazy = f->find_tensor("lazy");
  ASSERT_NE(lazy, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(lazy->data) % 64, 0u);  // mmap base is page aligned
  const float* values = reinterpret_cast<const float*>(lazy->data);
  for (int k = 0; k < 30; ++k) EXPECT_EQ(values[k], k * 0.5f);
  EXPECT_EQ(0, std::memcmp(f->find_tensor("eager")->data, eager.data(), eager.size()));

  // The same writer serialised to memory gives the same bytes as the file.
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.is_ok());
  ASSERT_EQ(bytes->size(), f->file_size());
  auto mapped = MappedFile::open(path);
  ASSERT_TRUE(mapped.is_ok());
  EXPECT_EQ(0, std::memcmp(mapped->data(), bytes->data(), bytes->size()));
  std::filesystem::remove_all(dir);
}

TEST(GgufWriter, FailedFillLeavesNoFile) {
  std::string dir = temp_dir();
  std::string path = dir + "/fail.gguf";
  GgufWriter w;
  ASSERT_TRUE(w.add_tensor_lazy("t", DType::kF32, {4}, [](uint8_t*, size_t) {
                 return invalid_argument_error("generator exploded");
               }).is_ok());
  Status s = w.write_file(path);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("generator exploded"), std::string::npos);
  EXPECT_NE(s.message().find("'t'"), std::string::npos);
  EXPECT_EQ(count_files(dir), 0u);
  std::filesystem::remove_all(dir);

  GgufWriter ok;
  EXPECT_FALSE(ok.write_file("/nonexistent-dir-hearth/x.gguf").is_ok());
}

TEST(GgufFile, OpenMissingFileIsNotFound) {
  auto f = GgufFile::open("/nonexistent-dir-hearth/x.gguf");
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().code(), ErrorCode::kNotFound);
}

// ---- the real vocab file written by llama.cpp -------------------------------------------------

const std::string kVocabPath =
    std::string(HEARTH_SHARED_DIR) + "/testdata/tokenizer/llama.cpp/ggml-vocab-qwen35.gguf";

// The file is llama.cpp's tokenizer test vocab for the qwen35 pre-tokenizer: a Qwen2 vocabulary
// (151936 pieces) with tokenizer.ggml.pre = "qwen35", written by llama.cpp's gguf-py.
TEST(RealFile, LlamaCppQwen35VocabOpens) {
  auto f = GgufFile::open(kVocabPath);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_TRUE(f->tensors().empty());
  EXPECT_EQ(*f->get_string("general.architecture"), "qwen2");
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*f->get_string("tokenizer.ggml.pre"), "qwen35");
  EXPECT_EQ(*f->get_u64("qwen2.block_count"), 32u);
  EXPECT_NEAR(*f->get_f64("qwen2.attention.layer_norm_rms_epsilon"), 1e-6, 1e-12);
  auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.is_ok()) << tokens.status().to_string();
  ASSERT_EQ(tokens->size(), 151936u);
  // Byte-level BPE: the first pieces are the printable ASCII bytes in order.
  EXPECT_EQ((*tokens)[0], "!");
  EXPECT_EQ((*tokens)[1], "\"");
  EXPECT_EQ((*tokens)[151643], "<|endoftext|>");
  EXPECT_EQ((*tokens)[151644], "<|im_start|>");
  EXPECT_EQ((*tokens)[151645], "<|im_end|>");
  EXPECT_EQ(tokens->back(), "[PAD151935]");
  auto types = f->get_int_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.is_ok()) << types.status().to_string();
  ASSERT_EQ(types->size(), tokens->size());
  EXPECT_EQ((*types)[0], 1);       // normal
  EXPECT_EQ((*types)[151645], 3);  // control
  EXPECT_EQ(types->back(), 4);     // user-defined padding piece
  auto merges = f->get_string_array("tokenizer.ggml.merges");
  ASSERT_TRUE(merges.is_ok());
  ASSERT_EQ(merges->size(), 151387u);
  EXPECT_EQ((*merges)[0], "\xc4\xa0 \xc4\xa0");  // "Ġ Ġ"
  EXPECT_EQ((*merges)[2], "i n");
  EXPECT_EQ(*f->get_u64("tokenizer.ggml.eos_token_id"), 151643u);
  EXPECT_EQ(*f->get_u64("tokenizer.ggml.bos_token_id"), 151643u);
  auto tmpl = f->get_string("tokenizer.chat_template");
  ASSERT_TRUE(tmpl.is_ok());
  EXPECT_NE(tmpl->find("{% for message in messages %}"), std::string::npos);
}

TEST(RealFile, RewriteReadsBackIdentical) {
  auto f = GgufFile::open(kVocabPath);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  GgufWriter w(f->alignment());
  for (const auto& [k, v] : f->metadata()) w.set(k, v);
  for (const TensorInfo& t : f->tensors()) {
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    ASSERT_TRUE(w.add_tensor(t.name, t.type, ne, t.data, t.n_bytes).is_ok());
  }
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  auto g = GgufFile::from_memory(bytes->data(), bytes->size());
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  ASSERT_EQ(g->metadata().size(), f->metadata().size());
  for (size_t k = 0; k < f->metadata().size(); ++k) {
    EXPECT_EQ(g->metadata()[k].first, f->metadata()[k].first);
    EXPECT_TRUE(values_equal(g->metadata()[k].second, f->metadata()[k].second))
        << f->metadata()[k].first;
  }
  ASSERT_EQ(g->tensors().size(), f->tensors().size());
  // Same layout as llama.cpp's writer: the bytes are identical.
  auto original = MappedFile::open(kVocabPath);
  ASSERT_TRUE(original.is_ok());
  ASSERT_EQ(bytes->size(), original->size());
  EXPECT_EQ(0, std::memcmp(bytes->data(), original->data(), bytes->size()));
}

}  // namespace
}  // namespace hearth::gguf
