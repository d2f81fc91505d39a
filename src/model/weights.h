// Weight binding: every tensor of a Qwen3.5 GGUF looked up by name, checked against the shape
// the hyper-parameters imply (and its type against what the kernels support), and exposed as
// zero-copy views into the memory map. MTP (nextn) blocks are tolerated and ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/status.h"
#include "gguf/gguf_file.h"
#include "kernels/kernels.h"
#include "model/hparams.h"

namespace hearth::model {

// A stack of E equally-shaped matrices (3-D ggml tensor [cols, rows, E]).
struct ExpertStack {
  kernels::WeightMatrix first;  // expert 0; expert e starts at first.data + e * expert_stride
  size_t expert_stride = 0;     // bytes between experts
  kernels::WeightMatrix expert(int64_t e) const {
    kernels::WeightMatrix w = first;
    w.data = static_cast<const uint8_t*>(first.data) + static_cast<size_t>(e) * expert_stride;
    return w;
  }
};

struct GdnWeights {
  kernels::WeightMatrix qkv;    // [conv_dim][D]
  kernels::WeightMatrix gate;   // z: [value_dim][D]
  kernels::WeightMatrix beta;   // [Hv][D]
  kernels::WeightMatrix alpha;  // [Hv][D]
  std::vector<float> conv;      // [Kc][conv_dim] (f32 copy, transposed from the file's
                                //  [conv_dim][Kc] so the channel loop is contiguous; tiny)
  std::vector<float> dt_bias;   // [Hv]
  std::vector<float> a;         // [Hv] = -exp(A_log)
  std::vector<float> norm;      // [dv]
  kernels::WeightMatrix out;    // [D][value_dim]
};

struct AttentionWeights {
  kernels::WeightMatrix q;    // [Hq * 2 * dh][D], per head [query | gate]
  kernels::WeightMatrix k;    // [Hkv * dh][D]
  kernels::WeightMatrix v;    // [Hkv * dh][D]
  kernels::WeightMatrix out;  // [D][Hq * dh]
  std::vector<float> q_norm;  // [dh]
  std::vector<float> k_norm;  // [dh]
};

struct DenseFfnWeights {
  kernels::WeightMatrix gate;  // [F][D]
  kernels::WeightMatrix up;    // [F][D]
  kernels::WeightMatrix down;  // [D][F]
};

struct MoeWeights {
  kernels::WeightMatrix router;       // [E][D]
  ExpertStack gate;                   // E x [Fe][D]
  ExpertStack up;                     // E x [Fe][D]
  ExpertStack down;                   // E x [D][Fe]
  kernels::WeightMatrix shared_gate;  // [1][D] scalar gate of the shared expert
  DenseFfnWeights shared;             // [Fs][D], [Fs][D], [D][Fs]
};

struct LayerWeights {
  bool recurrent = true;
  std::vector<float> attn_norm;       // [D]
  std::vector<float> post_attn_norm;  // [D]
  GdnWeights gdn;                     // when recurrent
  AttentionWeights attn;              // when !recurrent
  DenseFfnWeights ffn;                // qwen35
  MoeWeights moe;                     // qwen35moe
};

struct ModelWeights {
  kernels::WeightMatrix token_embd;  // [n_vocab][D]
  std::vector<float> output_norm;    // [D]
  kernels::WeightMatrix output;      // [n_vocab][D]; token_embd when tied
  bool tied_output = false;
  std::vector<LayerWeights> layers;  // [n_layer]
};

// Looks tensors up by name with shape and type checks. Errors name the tensor, the expected
// and the found shape.
class TensorBinder {
 public:
  explicit TensorBinder(const gguf::GgufFile& file) : file_(file) {}
  // A 2-D matrix with ne = [cols, rows] (ne[2..] must be 1).
  Result<kernels::WeightMatrix> matrix(const std::string& name, int64_t cols, int64_t rows) const;
  // A 2-D table that only needs row dequantisation (embeddings): any dequantisable type.
  Result<kernels::WeightMatrix> table(const std::string& name, int64_t cols, int64_t rows) const;
  // A 3-D stack with ne = [cols, rows, n].
  Result<ExpertStack> stack(const std::string& name, int64_t cols, int64_t rows, int64_t n) const;
  // A 1-D vector (or [n, 1]) of any dequantisable type, copied to f32.
  Result<std::vector<float>> vector(const std::string& name, int64_t n) const;
  // A [cols, rows] tensor copied to f32 row-major [rows][cols].
  Result<std::vector<float>> dense(const std::string& name, int64_t cols, int64_t rows) const;
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  const gguf::TensorInfo* info(const std::string& name) const { return file_.find_tensor(name); }

 private:
  Result<const gguf::TensorInfo*> find(const std::string& name, std::vector<int64_t> expect) const;
  const gguf::GgufFile& file_;
};

// Binds everything the forward pass needs (dispatches on hp.arch for the FFN).
Result<ModelWeights> bind_weights(const gguf::GgufFile& file, const HParams& hp);

// Copies every bound matrix that this CPU's kernels run faster in the rows16 layout
// (kernels::rows16_preferred: Q4_K / Q6_K on AVX-512) into `storage`, repacked, and points its
// WeightMatrix there (the tied output head and token_embd stay one copy). The file pages each
// matrix came from are released as it is copied, so resident memory does not double; the file
// view (file.find_tensor) keeps reading the original bytes. Returns the bytes repacked.
size_t repack_weights(const gguf::GgufFile& file, ModelWeights& w,
                      std::vector<AlignedBuffer>& storage);

// Per-architecture FFN binding (qwen35.cpp / qwen35_moe.cpp).
Status bind_dense_ffn(const TensorBinder& b, const HParams& hp, int64_t layer, LayerWeights& lw);
Status bind_moe_ffn(const TensorBinder& b, const HParams& hp, int64_t layer, LayerWeights& lw);

// "blk.<i>.<suffix>"
std::string blk(int64_t i, const char* suffix);
std::string shape_string(const std::vector<int64_t>& ne);

}  // namespace hearth::model
