// Model name parsing: every accepted form, defaults, case rules, and names that must be
// rejected because they could escape the store or are malformed.
#include <gtest/gtest.h>

#include <string>

#include "store/manifest.h"
#include "store/model_name.h"
#include "store/sha256.h"

namespace hearth::store {
namespace {

ModelName parse_ok(const std::string& text) {
  auto r = parse_model_name(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().message();
  return r.is_ok() ? *r : ModelName{};
}

TEST(ModelName, BareModelGetsOllamaDefaults) {
  ModelName n = parse_ok("qwen3.5");
  EXPECT_EQ(n.kind, ModelName::Kind::kRegistry);
  EXPECT_EQ(n.host, "registry.ollama.ai");
  EXPECT_EQ(n.name_space, "library");
  EXPECT_EQ(n.model, "qwen3.5");
  EXPECT_EQ(n.tag, "latest");
  EXPECT_EQ(n.display(), "qwen3.5:latest");
  EXPECT_EQ(n.manifest_relpath(), "registry.ollama.ai/library/qwen3.5/latest");
}

TEST(ModelName, EveryQwen35SizeAndQuantTag) {
  for (const char* tag : {"0.8b", "2b", "4b", "9b", "27b", "35b-a3b", "122b-a10b", "9b-q8_0",
                          "4b-q4_k_m", "27b-bf16"}) {
    ModelName n = parse_ok(std::string("qwen3.5:") + tag);
    EXPECT_EQ(n.model, "qwen3.5");
    EXPECT_EQ(n.tag, tag);
    EXPECT_EQ(n.display(), std::string("qwen3.5:") + tag);
  }
}

TEST(ModelName, RegistryNamesAreLowerCased) {
  ModelName n = parse_ok("Qwen3.5:9B-Q8_0");
  EXPECT_EQ(n.model, "qwen3.5");
  EXPECT_EQ(n.tag, "9b-q8_0");
}

TEST(ModelName, NamespaceAndHost) {
  EXPECT_EQ(parse_ok("library/qwen3.5:4b").display(), "qwen3.5:4b");
  ModelName user = parse_ok("someone/my-model:v1");
  EXPECT_EQ(user.name_space, "someone");
  EXPECT_EQ(user.display(), "someone/my-model:v1");
  EXPECT_EQ(parse_ok("registry.ollama.ai/library/qwen3.5:2b").display(), "qwen3.5:2b");
  ModelName other = parse_ok("localhost:5000/team/model:tag");
  EXPECT_EQ(other.host, "localhost:5000");
  EXPECT_EQ(other.tag, "tag");
  EXPECT_EQ(other.display(), "localhost:5000/team/model:tag");
  EXPECT_EQ(other.manifest_relpath(), "localhost:5000/team/model/tag");
  // A ':' before the last '/' is a port, not a tag.
  EXPECT_EQ(parse_ok("localhost:5000/team/model").tag, "latest");
}

TEST(ModelName, HuggingFace) {
  ModelName n = parse_ok("hf.co/unsloth/Qwen3.5-9B-GGUF:Q4_K_M");
  EXPECT_EQ(n.kind, ModelName::Kind::kHuggingFace);
  EXPECT_EQ(n.host, "hf.co");
  EXPECT_EQ(n.name_space, "unsloth");
  EXPECT_EQ(n.model, "Qwen3.5-9B-GGUF");  // repositories keep their case
  EXPECT_EQ(n.tag, "Q4_K_M");
  EXPECT_EQ(n.display(), "hf.co/unsloth/Qwen3.5-9B-GGUF:Q4_K_M");
  EXPECT_EQ(parse_ok("hf.co/unsloth/Qwen3.5-9B-GGUF").tag, "Q4_K_M");  // default quant
  ModelName long_host = parse_ok("HuggingFace.co/bartowski/Qwen_Qwen3.5-4B-GGUF:q8_0");
  EXPECT_EQ(long_host.kind, ModelName::Kind::kHuggingFace);
  EXPECT_EQ(long_host.host, "hf.co");
  EXPECT_EQ(long_host.tag, "q8_0");
}

TEST(ModelName, LocalGgufFiles) {
  for (const char* path : {"/models/qwen.gguf", "./Qwen3.5-9B-Q4_K_M.gguf", "../x/model.GGUF",
                           "model.gguf", "~/m.gguf"}) {
    ModelName n = parse_ok(path);
    EXPECT_EQ(n.kind, ModelName::Kind::kLocalFile) << path;
    EXPECT_EQ(n.path, path);
    EXPECT_EQ(n.display(), path);
  }
}

TEST(ModelName, RejectsEscapesAndMalformedNames) {
  const std::string too_long_part(200, 'a');
  for (const std::string& bad : std::initializer_list<std::string>{"",
                                                                   "..",
                                                                   "../x",
                                                                   "a/../b",
                                                                   "../../etc/passwd",
                                                                   "/etc/passwd",
                                                                   "./model",
                                                                   "~/model",
                                                                   "a\\b",
                                                                   "a/b/c/d",
                                                                   "a//b",
                                                                   "/",
                                                                   "qwen:",
                                                                   ":tag",
                                                                   "qwen:..",
                                                                   "qwen:.hidden",
                                                                   "qwen:../x",
                                                                   "ns/..:tag",
                                                                   "../ns/model:tag",
                                                                   "host/../model:tag",
                                                                   ".hidden",
                                                                   "-rf",
                                                                   "a b",
                                                                   "a\nb",
                                                                   std::string("a\0b", 3),
                                                                   "qwen3.5:9b;rm",
                                                                   "model:tag:extra",
                                                                   "mo$del",
                                                                   "hf.co/onlyowner",
                                                                   "hf.co/owner/repo/extra",
                                                                   "evil host/ns/m",
                                                                   too_long_part,
                                                                   "qwen:" + too_long_part,
                                                                   "a/b:t\x01",
                                                                   "m\xc3\xa9:t",
                                                                   std::string(600, 'x')}) {
    auto r = parse_model_name(bad);
    EXPECT_FALSE(r.is_ok()) << "accepted '" << bad << "' as " << (r.is_ok() ? r->display() : "");
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
      EXPECT_FALSE(r.status().message().empty());
    }
  }
}

TEST(ModelName, NamePartRules) {
  EXPECT_TRUE(is_valid_name_part("qwen3.5"));
  EXPECT_TRUE(is_valid_name_part("9b-q8_0"));
  EXPECT_FALSE(is_valid_name_part(""));
  EXPECT_FALSE(is_valid_name_part("."));
  EXPECT_FALSE(is_valid_name_part(".."));
  EXPECT_FALSE(is_valid_name_part("a/b"));
  EXPECT_FALSE(is_valid_name_part("a:b"));
  EXPECT_TRUE(is_valid_name_part("host:80", /*allow_colon=*/true));
}

TEST(Digest, OnlyWellFormedSha256DigestsAreAccepted) {
  std::string good = "sha256:" + sha256_hex("hello");
  EXPECT_EQ(sha256_hex("hello"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_TRUE(is_valid_digest(good));
  EXPECT_EQ(digest_to_blob_name(good), "sha256-" + sha256_hex("hello"));
  EXPECT_FALSE(is_valid_digest("sha256:../../../../etc/passwd"));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(64, 'G')));
  EXPECT_FALSE(is_valid_digest("sha512:" + sha256_hex("hello")));
  EXPECT_FALSE(is_valid_digest(good + "0"));
  std::string upper = good;
  upper[10] = 'A';
  EXPECT_FALSE(is_valid_digest(upper));
}

TEST(Manifest, RoundTripAndRejectsPathDigests) {
  Manifest m;
  m.config = {kConfigMediaType, "sha256:" + sha256_hex("config"), 6};
  m.layers.push_back({kModelMediaType, "sha256:" + sha256_hex("model"), 5});
  m.layers.push_back({"application/vnd.ollama.image.template", "sha256:" + sha256_hex("t"), 1});
  auto back = parse_manifest(serialize_manifest(m));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->config.digest, m.config.digest);
  ASSERT_EQ(back->layers.size(), 2u);
  ASSERT_NE(back->model_layer(), nullptr);
  EXPECT_EQ(back->model_layer()->digest, m.layers[0].digest);
  EXPECT_EQ(back->total_size(), 12u);
  EXPECT_EQ(back->digests().size(), 3u);

  std::string evil =
      R"({"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model",
      "digest":"sha256:../../../../tmp/x","size":1}]})";
  EXPECT_FALSE(parse_manifest(evil).is_ok());
  EXPECT_FALSE(parse_manifest("not json").is_ok());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":1,"layers":[]})").is_ok());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":2})").is_ok());
}

}  // namespace
}  // namespace hearth::store
