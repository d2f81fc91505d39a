// Hugging Face -> GGUF conversion: a synthetic GGUF is turned into an HF folder by the test's own
// inverse transforms, converted back, and compared tensor by tensor and by logits; plus the
// safetensors reader and bad-input errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "convert/convert.h"
#include "convert/safetensors.h"
#include "convert_test_util.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "tensor/float16.h"

namespace hearth::convert {
namespace {

namespace fs = std::filesystem;
using model::Arch;
using model::FileType;
using testing::HfOptions;
using testing::TempDir;

TEST(ReorderValueHeads, MovesGroupedHeadsToTiledPositions) {
  // Hk = 2 key heads, r = 3 value heads per key head, 2 elements per head.
  const int64_t hk = 2, r = 3, hd = 2;
  std::vector<float> src(hk * r * hd), dst(src.size(), -1.0f);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
  reorder_value_heads(src.data(), dst.data(), hk, r, hd, 1);
  // GGUF head n reads key head n mod Hk and holds HF head (n mod Hk) * r + n / Hk.
  for (int64_t n = 0; n < hk * r; ++n) {
    const int64_t h = testing::hf_head_of_gguf(n, hk, r);
    for (int64_t e = 0; e < hd; ++e) EXPECT_EQ(dst[n * hd + e], src[h * hd + e]) << n;
  }
  // r = 1: identity.
  std::vector<float> same(4);
  reorder_value_heads(src.data(), same.data(), 4, 1, 1, 1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(same[i], src[i]);
}

TEST(Safetensors, WriteReadRoundTripAndDtypes) {
  TempDir dir;
  std::vector<float> v = {1.0f, -2.5f, 3.25f, 0.1f, 65504.0f, -1e-3f};
  std::vector<StWriteTensor> ts = {make_st_tensor("a", StDType::kF32, {2, 3}, v),
                                   make_st_tensor("b", StDType::kBF16, {6}, v),
                                   make_st_tensor("c", StDType::kF16, {3, 2}, v)};
  ASSERT_TRUE(write_safetensors(dir.file("model.safetensors"), ts).is_ok());
  auto m = SafetensorsModel::open_dir(dir.path);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  ASSERT_EQ(m->size(), 3u);
  const StTensor* a = m->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> out(6);
  st_to_f32(*a, out.data());
  EXPECT_EQ(out, v);
  st_to_f32(*m->find("b"), out.data());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], bf16_to_fp32(fp32_to_bf16(v[i])));
  st_to_f32(*m->find("c"), out.data());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], fp16_to_fp32(fp32_to_fp16(v[i])));
}

TEST(Safetensors, RejectsBadFiles) {
  TempDir dir;
  auto write_raw = [&](const std::string& header, size_t data_bytes) {
    std::ofstream f(dir.file("model.safetensors"), std::ios::binary | std::ios::trunc);
    const uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << header;
    f << std::string(data_bytes, '\0');
  };
  write_raw(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);  // truncated
  auto r = SafetensorsModel::open_dir(dir.path);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorruptData);
  EXPECT_NE(r.status().message().find("'x'"), std::string::npos) << r.status().message();

  write_raw(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16);  // size mismatch
  EXPECT_EQ(SafetensorsModel::open_dir(dir.path).status().code(), ErrorCode::kCorruptData);

  write_raw(R"({"x":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", 16);
  r = SafetensorsModel::open_dir(dir.path);
  EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(r.status().message().find("I64"), std::string::npos);

  write_raw(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
            R"("y":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
            24);  // overlap
  EXPECT_EQ(SafetensorsModel::open_dir(dir.path).status().code(), ErrorCode::kCorruptData);

  write_raw("{not json", 0);
  EXPECT_EQ(SafetensorsModel::open_dir(dir.path).status().code(), ErrorCode::kCorruptData);

  {
    std::ofstream f(dir.file("model.safetensors"), std::ios::binary | std::ios::trunc);
    const uint64_t n = 1000;  // header longer than the file
    f.write(reinterpret_cast<const char*>(&n), 8);
  }
  EXPECT_EQ(SafetensorsModel::open_dir(dir.path).status().code(), ErrorCode::kCorruptData);
}

// Converts the HF image of a synthetic model and checks every tensor against the original.
void check_round_trip(Arch arch, const HfOptions& hf, double tensor_tol, double logits_tol) {
  TempDir dir;
  const std::string ref_path = dir.file("ref.gguf");
  testing::write_tiny_gguf(ref_path, arch, FileType::kF32);
  const std::string hf_dir = dir.file("hf");
  fs::create_directories(hf_dir);
  testing::gguf_to_hf(ref_path, hf_dir, hf);
  ThreadPool pool(2);
  const std::string out_path = dir.file("converted.gguf");
  Status s = convert_hf(hf_dir, out_path, FileType::kF32, pool);
  ASSERT_TRUE(s.is_ok()) << s.to_string();

  auto ref = gguf::GgufFile::open(ref_path);
  auto out = gguf::GgufFile::open(out_path);
  ASSERT_TRUE(ref.is_ok() && out.is_ok());
  ASSERT_EQ(out->tensors().size(), ref->tensors().size());
  for (const auto& t : ref->tensors()) {
    const gguf::TensorInfo* c = out->find_tensor(t.name);
    ASSERT_NE(c, nullptr) << "missing " << t.name;
    EXPECT_EQ(c->type, DType::kF32) << t.name;
    for (int d = 0; d < 4; ++d) EXPECT_EQ(c->ne[d], t.ne[d]) << t.name;
    const auto want = testing::tensor_values(*ref, t.name);
    const auto got = testing::tensor_values(*out, t.name);
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]) /
                                  std::max(1.0, std::fabs(static_cast<double>(want[i]))));
    }
    EXPECT_LE(worst, tensor_tol) << t.name;
  }
  // Metadata llama.cpp reads.
  const std::string P = std::string(model::arch_name(arch)) + ".";
  for (const char* key :
       {"block_count", "embedding_length", "attention.head_count", "attention.head_count_kv",
        "attention.key_length", "rope.dimension_count", "ssm.conv_kernel", "ssm.state_size",
        "ssm.group_count", "ssm.time_step_rank", "ssm.inner_size", "full_attention_interval"}) {
    auto a = ref->get_u64(P + key);
    auto b = out->get_u64(P + key);
    ASSERT_TRUE(a.is_ok() && b.is_ok()) << key;
    EXPECT_EQ(*a, *b) << key;
  }
  EXPECT_EQ(*out->get_int_array(P + "rope.dimension_sections"),
            *ref->get_int_array(P + "rope.dimension_sections"));
  EXPECT_EQ(*out->get_string("tokenizer.ggml.pre"), "qwen35");
  EXPECT_EQ(*out->get_string_array("tokenizer.ggml.tokens"),
            *ref->get_string_array("tokenizer.ggml.tokens"));
  EXPECT_EQ(*out->get_int_array("tokenizer.ggml.token_type"),
            *ref->get_int_array("tokenizer.ggml.token_type"));
  EXPECT_EQ(*out->get_string_array("tokenizer.ggml.merges"),
            *ref->get_string_array("tokenizer.ggml.merges"));
  EXPECT_EQ(*out->get_u64("tokenizer.ggml.eos_token_id"),
            *ref->get_u64("tokenizer.ggml.eos_token_id"));
  EXPECT_TRUE(out->get_string("tokenizer.chat_template").is_ok());
  EXPECT_EQ(*out->get_u64("general.file_type"), 0u);

  // Same model, same logits.
  auto m_ref = model::Model::load(ref_path);
  auto m_out = model::Model::load(out_path);
  ASSERT_TRUE(m_ref.is_ok()) << m_ref.status().to_string();
  ASSERT_TRUE(m_out.is_ok()) << m_out.status().to_string();
  const std::vector<int32_t> tokens = {5, 100, 42, 7, 200, 3, 150, 9, 11, 260, 1, 77};
  const auto a = testing::prefill_logits(**m_out, tokens, pool);
  const auto b = testing::prefill_logits(**m_ref, tokens, pool);
  const double err = testing::max_rel_error(a, b);
  EXPECT_LE(err, logits_tol);
  std::printf("round trip %s: max rel logits error %.3g\n", model::arch_name(arch), err);
}

// F32 HF weights: only A_log -> -exp() is inexact (norm +-1 in [0.5, 2] is exact in f32).
TEST(ConvertHf, DenseF32RoundTrip) {
  check_round_trip(Arch::kQwen35, {}, 1e-6, 1e-5);
}

TEST(ConvertHf, MoeFusedExpertsRoundTrip) {
  check_round_trip(Arch::kQwen35Moe, {}, 1e-6, 1e-5);
}

TEST(ConvertHf, MoePerExpertTensorsTextOnlyCheckpoint) {
  HfOptions o;
  o.fused_experts = false;
  o.nested_config = false;
  o.extra_tensors = false;
  o.text_only_prefix = true;
  check_round_trip(Arch::kQwen35Moe, o, 1e-6, 1e-5);
}

// BF16 HF weights: every value carries bf16 rounding (relative 2^-8), the logits follow.
TEST(ConvertHf, DenseBf16) {
  HfOptions o;
  o.dtype = StDType::kBF16;
  check_round_trip(Arch::kQwen35, o, 1.0 / 128, 0.05);
}

TEST(ConvertHf, TransformsOnBf16SourceValues) {
  // Checks the transforms directly against the BF16 source values: +1 on norms (not ssm_norm),
  // ssm_a = -exp(A_log) (A_log stays F32), tiled value heads, conv squeeze.
  TempDir dir;
  testing::write_tiny_gguf(dir.file("ref.gguf"), Arch::kQwen35, FileType::kF32);
  const std::string hf_dir = dir.file("hf");
  fs::create_directories(hf_dir);
  HfOptions o;
  o.dtype = StDType::kBF16;
  testing::gguf_to_hf(dir.file("ref.gguf"), hf_dir, o);
  ThreadPool pool(2);
  ASSERT_TRUE(convert_hf(hf_dir, dir.file("out.gguf"), FileType::kF32, pool).is_ok());
  auto st = SafetensorsModel::open_dir(hf_dir);
  auto out = gguf::GgufFile::open(dir.file("out.gguf"));
  ASSERT_TRUE(st.is_ok() && out.is_ok());
  auto src = [&](const std::string& n) {
    const StTensor* t = st->find("model.language_model." + n);
    EXPECT_NE(t, nullptr) << n;
    std::vector<float> v(t ? t->n_elements() : 0);
    if (t) st_to_f32(*t, v.data());
    return v;
  };
  const int64_t hk = 2, r = 2, dv = 64, D = 256, key_dim = 128, Kc = 4;  // tiny shape
  auto norm = src("layers.0.input_layernorm.weight");
  auto got = testing::tensor_values(*out, "blk.0.attn_norm.weight");
  for (size_t i = 0; i < norm.size(); ++i) EXPECT_EQ(got[i], norm[i] + 1.0f);
  auto sn = src("layers.0.linear_attn.norm.weight");
  got = testing::tensor_values(*out, "blk.0.ssm_norm.weight");
  for (size_t i = 0; i < sn.size(); ++i) EXPECT_EQ(got[i], sn[i]);
  auto alog = src("layers.0.linear_attn.A_log");
  got = testing::tensor_values(*out, "blk.0.ssm_a");
  for (int64_t n = 0; n < hk * r; ++n) {
    EXPECT_FLOAT_EQ(got[n], -std::exp(alog[testing::hf_head_of_gguf(n, hk, r)])) << n;
  }
  auto z = src("layers.0.linear_attn.in_proj_z.weight");  // [Hv*dv][D]
  got = testing::tensor_values(*out, "blk.0.attn_gate.weight");
  for (int64_t n = 0; n < hk * r; ++n) {
    const int64_t h = testing::hf_head_of_gguf(n, hk, r);
    for (int64_t e = 0; e < dv; e += 7) {
      for (int64_t c = 0; c < D; c += 31) {
        EXPECT_EQ(got[(n * dv + e) * D + c], z[(h * dv + e) * D + c]);
      }
    }
  }
  auto conv = src("layers.0.linear_attn.conv1d.weight");  // [C][1][Kc]
  got = testing::tensor_values(*out, "blk.0.ssm_conv1d.weight");
  for (int64_t ch = 0; ch < 2 * key_dim; ++ch) {  // q and k channels untouched
    for (int64_t j = 0; j < Kc; ++j) EXPECT_EQ(got[ch * Kc + j], conv[ch * Kc + j]);
  }
  for (int64_t n = 0; n < hk * r; ++n) {
    const int64_t h = testing::hf_head_of_gguf(n, hk, r);
    for (int64_t e = 0; e < dv; ++e) {
      for (int64_t j = 0; j < Kc; ++j) {
        EXPECT_EQ(got[(2 * key_dim + n * dv + e) * Kc + j],
                  conv[(2 * key_dim + h * dv + e) * Kc + j]);
      }
    }
  }
  auto op = src("layers.0.linear_attn.out_proj.weight");  // [D][value_dim]
  got = testing::tensor_values(*out, "blk.0.ssm_out.weight");
  for (int64_t row = 0; row < D; row += 13) {
    for (int64_t n = 0; n < hk * r; ++n) {
      const int64_t h = testing::hf_head_of_gguf(n, hk, r);
      for (int64_t e = 0; e < dv; e += 5) {
        EXPECT_EQ(got[row * hk * r * dv + n * dv + e], op[row * hk * r * dv + h * dv + e]);
      }
    }
  }
}

TEST(ConvertHf, QuantisedOutputTypeAndLoads) {
  TempDir dir;
  testing::write_tiny_gguf(dir.file("ref.gguf"), Arch::kQwen35, FileType::kF32);
  fs::create_directories(dir.file("hf"));
  testing::gguf_to_hf(dir.file("ref.gguf"), dir.file("hf"), {});
  ThreadPool pool(2);
  ASSERT_TRUE(convert_hf(dir.file("hf"), dir.file("q8.gguf"), FileType::kQ8_0, pool).is_ok());
  auto out = gguf::GgufFile::open(dir.file("q8.gguf"));
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(out->find_tensor("blk.0.attn_qkv.weight")->type, DType::kQ8_0);
  EXPECT_EQ(out->find_tensor("blk.0.ssm_conv1d.weight")->type, DType::kF32);
  EXPECT_EQ(*out->get_u64("general.file_type"), 7u);
  EXPECT_TRUE(model::Model::load(dir.file("q8.gguf")).is_ok());
}

class ConvertBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_tiny_gguf(dir.file("ref.gguf"), Arch::kQwen35, FileType::kF32);
    hf = dir.file("hf");
    fs::create_directories(hf);
    testing::gguf_to_hf(dir.file("ref.gguf"), hf, {});
  }
  Status convert() { return convert_hf(hf, dir.file("out.gguf"), FileType::kF32, pool); }
  void edit_config(const std::string& from, const std::string& to) {
    std::ifstream in(hf + "/config.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t pos = text.find(from);
    ASSERT_NE(pos, std::string::npos) << from;
    text.replace(pos, from.size(), to);
    std::ofstream(hf + "/config.json", std::ios::trunc) << text;
  }
  TempDir dir;
  std::string hf;
  ThreadPool pool{2};
};

TEST_F(ConvertBadInput, MissingConfig) {
  fs::remove(hf + "/config.json");
  Status s = convert();
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_NE(s.message().find("config.json"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(dir.file("out.gguf")));
}

TEST_F(ConvertBadInput, UnknownModelType) {
  edit_config("\"model_type\": \"qwen3_5\"", "\"model_type\": \"llama\"");
  Status s = convert();
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("llama"), std::string::npos) << s.message();
}

TEST_F(ConvertBadInput, WrongTensorShape) {
  // The config says a wider FFN than the weights have.
  edit_config("\"intermediate_size\": 512", "\"intermediate_size\": 768");
  Status s = convert();
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("mlp.gate_proj.weight"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("expected [768, 256]"), std::string::npos) << s.message();
}

TEST_F(ConvertBadInput, TruncatedShard) {
  const std::string shard = hf + "/model-00002-of-00002.safetensors";
  fs::resize_file(shard, fs::file_size(shard) / 2);
  Status s = convert();
  EXPECT_EQ(s.code(), ErrorCode::kCorruptData);
  EXPECT_NE(s.message().find("model-00002-of-00002.safetensors"), std::string::npos) << s.message();
}

TEST_F(ConvertBadInput, MissingTensor) {
  // Rewrite the index so that a tensor points nowhere: the reader sees the shards, the
  // converter misses the tensor.
  auto st = SafetensorsModel::open_dir(hf);
  ASSERT_TRUE(st.is_ok());
  std::vector<StWriteTensor> keep;
  for (const auto& n : st->names()) {
    if (n.find("layers.1.mlp.up_proj") != std::string::npos) continue;
    const StTensor* t = st->find(n);
    StWriteTensor w;
    w.name = n;
    w.dtype = t->dtype;
    w.shape = t->shape;
    w.bytes.assign(t->data, t->data + t->n_bytes);
    keep.push_back(std::move(w));
  }
  for (const auto& e : fs::directory_iterator(hf)) {
    if (e.path().extension() == ".safetensors" ||
        e.path().filename() == "model.safetensors.index.json") {
      fs::remove(e.path());
    }
  }
  ASSERT_TRUE(write_safetensors(hf + "/model.safetensors", keep).is_ok());
  Status s = convert();
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_NE(s.message().find("layers.1.mlp.up_proj.weight"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace hearth::convert
