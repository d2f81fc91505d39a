// Malformed GGUF files: the generator for the checked-in corpus tests/data/gguf_bad/ (each file
// with its expected error substring in EXPECTED.txt), a test that runs the corpus, and sweeps
// over every prefix and many single-byte corruptions of a valid file (none may crash).
//
// Regenerate the corpus after changing a case:
//   HEARTH_REGENERATE_GGUF_BAD=1 build/bin/test_gguf --gtest_filter='BadCorpus.*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "gguf/gguf_file.h"
#include "gguf/gguf_test_util.h"
#include "gguf/gguf_writer.h"

namespace hearth::gguf {
namespace {

using testing::RawGguf;

constexpr uint32_t kF32 = 0;
constexpr uint32_t kQ4_0 = 2;
constexpr uint32_t kString = 8;
constexpr uint32_t kArray = 9;
constexpr uint64_t k2to60 = 1ull << 60;

struct BadCase {
  std::string name;
  std::vector<uint8_t> bytes;
  std::string expected;  // substring of the error message
  ErrorCode code = ErrorCode::kCorruptData;
};

// A valid file: two metadata entries, one f32 [8, 2] tensor (64 bytes, no trailing padding).
RawGguf valid_prefix_until_data(uint64_t offset = 0, std::vector<uint64_t> ne = {8, 2},
                                uint32_t type = kF32) {
  RawGguf g;
  g.header(3, 1, 2).kv_string("general.architecture", "test").kv_u32("test.block_count", 1);
  g.tensor_info("w", ne, type, offset).pad(32);
  return g;
}

std::vector<uint8_t> valid_file() {
  return valid_prefix_until_data().fill(64, 0x3f).bytes;
}

std::vector<BadCase> bad_cases() {
  std::vector<BadCase> cases;
  auto add = [&](std::string name, std::vector<uint8_t> bytes, std::string expected,
                 ErrorCode code = ErrorCode::kCorruptData) {
    cases.push_back({std::move(name), std::move(bytes), std::move(expected), code});
  };
  const std::vector<uint8_t> valid = valid_file();
  auto prefix = [&](size_t n) { return std::vector<uint8_t>(valid.begin(), valid.begin() + n); };

  add("empty", {}, "truncated file: magic at offset 0");
  {
    auto b = valid;
    b[3] = 'X';
    add("bad_magic", b, "bad magic");
  }
  add("version_1", RawGguf().header(1, 0, 0).bytes, "version 1", ErrorCode::kUnsupported);
  add("version_99", RawGguf().header(99, 0, 0).bytes, "unsupported GGUF version 99",
      ErrorCode::kUnsupported);
  add("big_endian", RawGguf().header(0x03000000u, 0, 0).bytes, "big-endian",
      ErrorCode::kUnsupported);
  add("truncated_header", prefix(12), "truncated file: tensor count at offset 8");
  add("truncated_key", RawGguf().header(3, 0, 1).u64(20).fill(6, 'k').bytes,
      "metadata key length 20 exceeds the 6 bytes that remain");
  add("truncated_value_type", RawGguf().header(3, 0, 1).str("general.name").fill(2, 0).bytes,
      "truncated file: metadata value type at offset 44");
  add("truncated_count", prefix(40), "metadata count 2 is impossible: only 16 bytes remain");
  {
    RawGguf g = valid_prefix_until_data();
    add("truncated_tensor_info", prefix(g.bytes.size() - 40), "truncated file: tensor dimension");
  }
  add("truncated_data", prefix(valid.size() - 1),
      "tensor 'w' data [160, 224) extends past end of file (size 223)");
  {
    RawGguf g;
    g.header(3, 1, 0).tensor_info("w", {8}, kF32, 0);  // infos end at 61: no room for padding
    add("data_section_past_end", g.bytes, "data section starts at offset 64 past end of file");
  }
  add("tensor_past_end", valid_prefix_until_data(32).fill(64, 0).bytes,
      "tensor 'w' data [192, 256) extends past end of file (size 224)");
  add("tensor_offset_past_end", valid_prefix_until_data(4096).fill(64, 0).bytes,
      "tensor 'w' data offset 4096 (data section at 160) extends past end of file (size 224)");
  add("tensor_offset_huge", valid_prefix_until_data(~0ull << 5).fill(64, 0).bytes,
      "tensor 'w' data offset 18446744073709551584 (data section at 160) extends past end");
  add("misaligned_offset", valid_prefix_until_data(4).fill(96, 0).bytes,
      "tensor 'w' data offset 4 is not a multiple of the alignment 32");
  {
    RawGguf g;
    g.header(3, 0, 2).kv_u32("dup.key", 1).kv_u32("dup.key", 2);
    add("duplicate_key", g.bytes, "duplicate metadata key 'dup.key' at offset 47");
  }
  {
    RawGguf g;
    g.header(3, 2, 0).tensor_info("w", {8}, kF32, 0).tensor_info("w", {8}, kF32, 32).pad(32);
    g.fill(64, 0);
    add("duplicate_tensor", g.bytes, "duplicate tensor name 'w'");
  }
  add("unknown_type_id", valid_prefix_until_data(0, {8, 2}, 77).fill(64, 0).bytes,
      "tensor 'w' has unknown ggml type id 77");
  add("unknown_type_id_31", valid_prefix_until_data(0, {8, 2}, 31).fill(64, 0).bytes,
      "unknown ggml type id 31");
  add("huge_kv_count", RawGguf().header(3, 0, k2to60).bytes,
      "metadata count 1152921504606846976 is impossible");
  add("huge_tensor_count", RawGguf().header(3, k2to60, 0).bytes,
      "tensor count 1152921504606846976 is impossible");
  {
    RawGguf g;
    g.header(3, 0, 1).str("k").u32(kString).u64(k2to60);
    add("huge_string_length", g.bytes, "string value length 1152921504606846976 exceeds");
  }
  {
    RawGguf g;
    g.header(3, 0, 1).u64(k2to60).fill(8, 0);
    add("huge_key_length", g.bytes, "metadata key length 1152921504606846976 exceeds");
  }
  {
    RawGguf g;
    g.header(3, 0, 1).str("k").u32(kArray).u32(kString).u64(k2to60);
    add("huge_array_count", g.bytes, "array element count 1152921504606846976 is impossible");
  }
  {
    RawGguf g;
    g.header(3, 0, 1).str("k").u32(13).u32(0);
    add("unknown_value_type", g.bytes, "unknown metadata value type 13");
  }
  {
    RawGguf g;
    g.header(3, 0, 1).str("k").u32(kArray).u32(42).u64(0);
    add("unknown_array_type", g.bytes, "unknown array element type 42");
  }
  {
    RawGguf g;
    g.header(3, 0, 1).str("k").u32(kArray);
    for (int d = 0; d < 20; ++d) g.u32(kArray).u64(1);
    g.u32(0).u64(1).pod<uint8_t>(5);
    add("arrays_nested_too_deep", g.bytes, "nested deeper than 8");
  }
  add("n_dims_5", valid_prefix_until_data(0, {8, 2, 1, 1, 1}).fill(64, 0).bytes,
      "tensor 'w' has n_dims 5 (must be 1..4)");
  add("n_dims_0", valid_prefix_until_data(0, {}).fill(64, 0).bytes, "has n_dims 0");
  add("negative_ne", valid_prefix_until_data(0, {8, ~0ull}).fill(64, 0).bytes, "negative ne[1] -1");
  add("ne_overflow", valid_prefix_until_data(0, {1ull << 32, 1ull << 32, 1ull << 32}).bytes,
      "overflows the element or byte count");
  add("ne_bytes_overflow", valid_prefix_until_data(0, {1ull << 61, 1}).bytes,
      "overflows the element or byte count");
  add("ne0_not_multiple_of_block", valid_prefix_until_data(0, {33, 1}, kQ4_0).fill(64, 0).bytes,
      "ne[0] 33, not a multiple of the q4_0 block size 32");
  {
    RawGguf g;
    g.header(3, 0, 1).kv_u32("general.alignment", 48);
    add("alignment_not_power_of_two", g.bytes, "general.alignment 48 is not a power of two");
  }
  {
    RawGguf g;
    g.header(3, 0, 1).kv_u32("general.alignment", 0);
    add("alignment_zero", g.bytes, "general.alignment 0 is not a power of two");
  }
  {
    RawGguf g;
    g.header(3, 0, 1).str("general.alignment").u32(10).u64(32);
    add("alignment_wrong_type", g.bytes, "general.alignment has type u64; it must be u32");
  }
  {
    RawGguf g;
    g.header(3, 1, 0).tensor_info(std::string(64, 'n'), {8}, kF32, 0).pad(32).fill(32, 0);
    add("tensor_name_too_long", g.bytes, "tensor name is 64 bytes long (limit 63)");
  }
  return cases;
}

std::string corpus_dir() {
  return std::string(HEARTH_SOURCE_DIR) + "/tests/data/gguf_bad";
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(BadCases, EachFailsWithItsMessageAndCode) {
  for (const BadCase& c : bad_cases()) {
    auto f = GgufFile::from_memory(c.bytes.data(), c.bytes.size());
    ASSERT_FALSE(f.is_ok()) << c.name << " parsed";
    EXPECT_EQ(f.status().code(), c.code) << c.name << ": " << f.status().to_string();
    EXPECT_NE(f.status().message().find(c.expected), std::string::npos)
        << c.name << ": got \"" << f.status().message() << "\", want \"" << c.expected << "\"";
  }
}

TEST(BadCorpus, CheckedInFilesMatchGenerator) {
  const bool regenerate = std::getenv("HEARTH_REGENERATE_GGUF_BAD") != nullptr;
  std::ostringstream expected;
  for (const BadCase& c : bad_cases()) {
    std::string path = corpus_dir() + "/" + c.name + ".gguf";
    if (regenerate) {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(c.bytes.data()),
                static_cast<std::streamsize>(c.bytes.size()));
      ASSERT_TRUE(out.good()) << path;
    }
    EXPECT_EQ(read_bytes(path), c.bytes) << path << " differs from the generator";
    expected << c.name << ".gguf\t" << c.expected << "\n";
  }
  std::string expected_path = corpus_dir() + "/EXPECTED.txt";
  if (regenerate) {
    std::ofstream out(expected_path, std::ios::trunc);
    out << expected.str();
  }
  auto got = read_bytes(expected_path);
  EXPECT_EQ(std::string(got.begin(), got.end()), expected.str());
}

// Runs the corpus as listed in EXPECTED.txt, independent of the generator above.
TEST(BadCorpus, EveryListedFileFailsWithExpectedMessage) {
  std::ifstream in(corpus_dir() + "/EXPECTED.txt");
  ASSERT_TRUE(in.good());
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    std::string name = line.substr(0, tab), want = line.substr(tab + 1);
    auto f = GgufFile::open(corpus_dir() + "/" + name);
    ASSERT_FALSE(f.is_ok()) << name << " opened";
    EXPECT_TRUE(f.status().code() == ErrorCode::kCorruptData ||
                f.status().code() == ErrorCode::kUnsupported)
        << name << ": " << f.status().to_string();
    EXPECT_NE(f.status().message().find(want), std::string::npos)
        << name << ": got \"" << f.status().message() << "\", want \"" << want << "\"";
    ++n;
  }
  EXPECT_GE(n, 30);
}

// A richer valid file (all value kinds, nested arrays, three tensors) for the sweeps below;
// the last tensor's size is a multiple of the alignment so every strict prefix is invalid.
std::vector<uint8_t> rich_valid_file() {
  GgufWriter w;
  w.set_string("general.architecture", "test");
  w.set_u32("a.u32", 7);
  w.set_bool("a.bool", true);
  w.set_f32("a.f32", 1.5f);
  w.set_string_array("a.strings", {"x", "yy", ""});
  w.set_i32_array("a.ints", {1, 2, 3});
  Value nested;
  nested.type = ValueType::kArray;
  nested.array_type = ValueType::kArray;
  nested.array.resize(2);
  for (Value& inner : nested.array) {
    inner.type = ValueType::kArray;
    inner.array_type = ValueType::kUint16;
    inner.array.resize(2);
    for (Value& e : inner.array) {
      e.type = ValueType::kUint16;
      e.u = 3;
    }
  }
  w.set("a.nested", nested);
  std::vector<uint8_t> d(256, 0x11);
  EXPECT_TRUE(w.add_tensor("t0", DType::kF16, {3}, d.data(), 6).is_ok());
  EXPECT_TRUE(w.add_tensor("t1", DType::kQ8_0, {32, 1}, d.data(), 34).is_ok());
  EXPECT_TRUE(w.add_tensor("t2", DType::kF32, {16, 2}, d.data(), 128).is_ok());
  auto bytes = w.to_bytes();
  EXPECT_TRUE(bytes.is_ok());
  return *bytes;
}

TEST(Truncation, EveryPrefixFailsCleanly) {
  for (const auto& file : {valid_file(), rich_valid_file()}) {
    ASSERT_TRUE(GgufFile::from_memory(file.data(), file.size()).is_ok());
    for (size_t n = 0; n < file.size(); ++n) {
      // A copy of exactly n bytes, so ASan catches any read past the end.
      std::vector<uint8_t> prefix(file.begin(), file.begin() + n);
      auto f = GgufFile::from_memory(prefix.data(), prefix.size());
      ASSERT_FALSE(f.is_ok()) << "prefix of " << n << " bytes parsed";
      EXPECT_EQ(f.status().code(), ErrorCode::kCorruptData) << f.status().to_string();
      const std::string& m = f.status().message();
      EXPECT_TRUE(m.find("offset") != std::string::npos ||
                  m.find("extends past end of file") != std::string::npos)
          << m;
    }
  }
}

TEST(Corruption, SingleByteChangesNeverCrash) {
  const std::vector<uint8_t> file = rich_valid_file();
  int failures = 0;
  for (size_t pos = 0; pos < file.size(); ++pos) {
    for (uint8_t v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::vector<uint8_t> b = file;
      if (b[pos] == v) continue;
      b[pos] = v;
      auto f = GgufFile::from_memory(b.data(), b.size());
      if (!f.is_ok()) {
        ++failures;
        EXPECT_FALSE(f.status().message().empty());
        continue;
      }
      // Whatever parsed must be self-consistent: tensor data inside the image.
      for (const TensorInfo& t : f->tensors()) {
        EXPECT_GE(t.data, b.data());
        EXPECT_LE(t.data + t.n_bytes, b.data() + b.size());
      }
    }
  }
  EXPECT_GT(failures, 0);
}

}  // namespace
}  // namespace hearth::gguf
