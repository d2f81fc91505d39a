// Test helpers for src/model: in-memory synthetic models and a plain float64 reference forward
// (loops, recurrent GDN, naive attention) written independently of the real forward.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace hearth::model::testing {

// A model together with the GGUF image it views.
struct TestModel {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
};

std::vector<uint8_t> synthetic_bytes(Arch arch, FileType type, uint64_t seed);
TestModel load_bytes(std::vector<uint8_t> bytes, bool repack_for_kernels = true);
TestModel make_tiny(Arch arch, FileType type = FileType::kF32, uint64_t seed = 7);

// Copies a GGUF image, letting `edit_kv` change metadata and `edit_tensor` drop (return false)
// or reshape tensors (it may change ne; data is then regenerated as zeros).
std::vector<uint8_t> rewrite(
    const std::vector<uint8_t>& bytes, const std::function<void(gguf::GgufWriter&)>& edit_kv,
    const std::function<bool(const std::string&, std::vector<int64_t>&)>& edit_tensor);

// Float64 reference: logits for every position, [T][n_vocab].
std::vector<double> reference_logits(const gguf::GgufFile& file,
                                     const std::vector<int32_t>& tokens);

// Real forward as one prefill (kAll) or token by token.
std::vector<float> run_prefill(const Model& m, const std::vector<int32_t>& tokens, ThreadPool& pool,
                               GdnMode mode = GdnMode::kAuto);
std::vector<float> run_decode(const Model& m, const std::vector<int32_t>& tokens, ThreadPool& pool);

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, uint64_t seed);

// max |a - b| / max |b|
double max_rel_error(const std::vector<float>& a, const std::vector<double>& b);
double max_rel_error(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace hearth::model::testing
