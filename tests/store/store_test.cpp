// The local store: import / list / resolve / rm round trips, dedup of identical blobs, blob
// pruning, architecture checks, atomicity (nothing left behind after a failure), free space.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "store/model_store.h"
#include "store/sha256.h"
#include "store/store_test_util.h"

namespace hearth::store {
namespace {

using testing::count_files;
using testing::count_files_recursive;
using testing::read_file;
using testing::TempDir;
using testing::write_tiny_gguf;

ModelName name_of(const std::string& text) {
  auto r = parse_model_name(text);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return *r;
}

class StoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
  TempDir src_;
  ModelStore store_{dir_.path() + "/models"};
};

TEST_F(StoreTest, ImportListResolveRemoveRoundTrip) {
  std::string file = write_tiny_gguf(src_.path(), "tiny.gguf", "qwen35", 1);
  std::string bytes = read_file(file);

  auto imported = store_.import_gguf(file, name_of("tiny"));
  ASSERT_TRUE(imported.is_ok()) << imported.status().message();
  EXPECT_EQ(imported->name, "tiny:latest");
  EXPECT_EQ(imported->id.size(), 12u);
  // Content-addressed: the blob is named by the file's sha256 and holds exactly its bytes.
  std::string digest = "sha256:" + sha256_hex(bytes);
  EXPECT_EQ(imported->gguf_path, store_.blob_path(digest));
  EXPECT_EQ(read_file(imported->gguf_path), bytes);
  EXPECT_TRUE(std::filesystem::exists(file)) << "import copies, the source stays";

  auto listed = store_.list();
  ASSERT_TRUE(listed.is_ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 1u);
  const ModelEntry& e = (*listed)[0];
  EXPECT_EQ(e.name, "tiny:latest");
  EXPECT_EQ(e.id, imported->id);
  EXPECT_EQ(e.id, sha256_hex(read_file(store_.manifest_path(name_of("tiny")))).substr(0, 12));
  EXPECT_GT(e.size, bytes.size());  // weights + config blob
  EXPECT_LT(e.size, bytes.size() + 1024);
  EXPECT_GT(e.modified_unix, 0);

  auto manifest = store_.read_manifest(name_of("tiny:latest"));
  ASSERT_TRUE(manifest.is_ok()) << manifest.status().message();
  ASSERT_NE(manifest->model_layer(), nullptr);
  EXPECT_EQ(manifest->model_layer()->digest, digest);
  EXPECT_EQ(manifest->model_layer()->size, bytes.size());
  EXPECT_EQ(manifest->config.media_type, kConfigMediaType);
  std::string config = read_file(store_.blob_path(manifest->config.digest));
  EXPECT_NE(config.find("\"qwen35\""), std::string::npos) << config;

  auto resolved = store_.resolve(name_of("tiny:latest"));
  ASSERT_TRUE(resolved.is_ok()) << resolved.status().message();
  EXPECT_EQ(resolved->gguf_path, imported->gguf_path);

  ASSERT_TRUE(store_.remove(name_of("tiny")).is_ok());
  EXPECT_TRUE(store_.list()->empty());
  EXPECT_EQ(count_files(store_.root() + "/blobs"), 0) << "unreferenced blobs are pruned";
  EXPECT_EQ(count_files_recursive(store_.root() + "/manifests"), 0);
  EXPECT_TRUE(std::filesystem::is_empty(store_.root() + "/manifests"))
      << "empty host/namespace/model folders are removed";
  auto gone = store_.resolve(name_of("tiny"));
  ASSERT_FALSE(gone.is_ok());
  EXPECT_EQ(gone.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(gone.status().message().find("hearth pull tiny:latest"), std::string::npos);
}

TEST_F(StoreTest, SameFileUnderTwoNamesIsStoredOnce) {
  std::string file = write_tiny_gguf(src_.path(), "tiny.gguf", "qwen35moe", 2);
  ASSERT_TRUE(store_.import_gguf(file, name_of("first:v1")).is_ok());
  ASSERT_TRUE(store_.import_gguf(file, name_of("someone/second:v2")).is_ok());
  EXPECT_EQ(count_files(store_.root() + "/blobs"), 2);  // one model blob + one config blob
  auto listed = store_.list();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "first:v1");
  EXPECT_EQ((*listed)[1].name, "someone/second:v2");
  EXPECT_EQ((*listed)[0].gguf_path, (*listed)[1].gguf_path);

  // Removing one name keeps the blobs the other still uses.
  ASSERT_TRUE(store_.remove(name_of("first:v1")).is_ok());
  EXPECT_EQ(count_files(store_.root() + "/blobs"), 2);
  EXPECT_TRUE(store_.resolve(name_of("someone/second:v2")).is_ok());
  ASSERT_TRUE(store_.remove(name_of("someone/second:v2")).is_ok());
  EXPECT_EQ(count_files(store_.root() + "/blobs"), 0);

  // A different file gets its own blob; re-importing under the same name replaces the manifest.
  std::string other = write_tiny_gguf(src_.path(), "other.gguf", "qwen35", 3);
  ASSERT_TRUE(store_.import_gguf(file, name_of("m")).is_ok());
  ASSERT_TRUE(store_.import_gguf(other, name_of("m")).is_ok());
  EXPECT_EQ(store_.list()->size(), 1u);
  EXPECT_EQ(read_file(store_.resolve(name_of("m"))->gguf_path), read_file(other));
}

TEST_F(StoreTest, ImportRejectsOtherArchitecturesAndNonGguf) {
  std::string llama = write_tiny_gguf(src_.path(), "llama.gguf", "llama", 4);
  auto r = store_.import_gguf(llama, name_of("llama"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(r.status().message().find("'llama'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("qwen35"), std::string::npos);

  std::string junk = src_.path() + "/junk.gguf";
  testing::write_file(junk, "this is not a gguf file at all, just text");
  EXPECT_FALSE(store_.import_gguf(junk, name_of("junk")).is_ok());
  EXPECT_FALSE(store_.import_gguf(src_.path() + "/missing.gguf", name_of("x")).is_ok());

  // Nothing half-installed anywhere in the store.
  EXPECT_EQ(count_files_recursive(store_.root()), 0);
  EXPECT_TRUE(store_.list()->empty());
}

TEST_F(StoreTest, ImportNeedsAModelName) {
  std::string file = write_tiny_gguf(src_.path(), "tiny.gguf", "qwen35", 5);
  auto r = store_.import_gguf(file, name_of("/somewhere/else.gguf"));
  EXPECT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(StoreTest, LocalFilesResolveInPlace) {
  std::string file = write_tiny_gguf(src_.path(), "local.gguf", "qwen35", 6);
  auto r = store_.resolve(name_of(file));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->gguf_path, file);
  EXPECT_EQ(r->size, read_file(file).size());
  EXPECT_EQ(count_files_recursive(store_.root()), 0) << "a local file is not copied";
  auto missing = store_.resolve(name_of(src_.path() + "/nope.gguf"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(store_.remove(name_of(file)).is_ok());
  EXPECT_TRUE(std::filesystem::exists(file));
}

TEST_F(StoreTest, RemoveUnknownModel) {
  Status s = store_.remove(name_of("nothing:here"));
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.message(), "model 'nothing:here' not found");
}

TEST_F(StoreTest, ListSkipsStrayAndCorruptFiles) {
  std::string file = write_tiny_gguf(src_.path(), "tiny.gguf", "qwen35", 7);
  ASSERT_TRUE(store_.import_gguf(file, name_of("good")).is_ok());
  std::string dir = store_.root() + "/manifests/registry.ollama.ai/library/bad";
  std::filesystem::create_directories(dir);
  testing::write_file(dir + "/latest", "{not a manifest");
  testing::write_file(dir + "/.swp", "x");
  auto listed = store_.list();
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "good:latest");
  // With an unreadable manifest around, removal keeps blobs it cannot prove unused.
  ASSERT_TRUE(store_.remove(name_of("good")).is_ok());
  EXPECT_EQ(count_files(store_.root() + "/blobs"), 2);
}

TEST_F(StoreTest, FreeSpaceCheck) {
  std::filesystem::create_directories(store_.root());
  EXPECT_TRUE(check_free_space(store_.root(), 1).is_ok());
  Status s = check_free_space(store_.root(), 1ull << 62);
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(s.message().find("not enough disk space"), std::string::npos) << s.message();
}

TEST(StoreFormat, HumanSizeAndAge) {
  EXPECT_EQ(human_size(6600000000ull), "6.6 GB");
  EXPECT_EQ(human_size(532000000ull), "532 MB");
  EXPECT_EQ(human_size(999), "999 B");
  EXPECT_EQ(human_age(0), "Less than a second ago");
  EXPECT_EQ(human_age(120), "2 minutes ago");
  EXPECT_EQ(human_age(3600), "1 hour ago");
  EXPECT_EQ(human_age(86400 * 3), "3 days ago");
  EXPECT_EQ(gguf_file_type_name(15), "Q4_K_M");
  EXPECT_EQ(gguf_file_type_name(7), "Q8_0");
  EXPECT_EQ(gguf_file_type_name(999), "unknown (999)");
}

TEST(StoreRoot, HonoursHearthModels) {
  ::setenv("HEARTH_MODELS", "/tmp/hearth-models-test-root", 1);
  EXPECT_EQ(ModelStore::default_root(), "/tmp/hearth-models-test-root");
  ::unsetenv("HEARTH_MODELS");
  EXPECT_NE(ModelStore::default_root().find("/.hearth/models"), std::string::npos);
}

}  // namespace
}  // namespace hearth::store
