// Model: a loaded Qwen3.5 (dense or MoE) GGUF — hyper-parameters plus weights viewed zero-copy
// from the read-only mapping, shared by any number of sequences — and the batched forward pass
// the engine drives (continuous batching: projections run as one matmul over the concatenated
// tokens of all entries; the GDN recurrence/conv and attention run per sequence).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf_file.h"
#include "model/blocks/batch_layout.h"
#include "model/hparams.h"
#include "model/state.h"
#include "model/weights.h"

namespace hearth::model {

enum class LogitsMode { kNone, kLast, kAll };

struct BatchEntry {
  SequenceState* state = nullptr;
  std::span<const int32_t> tokens;  // appended to the sequence, positions n_past...
  LogitsMode logits_mode = LogitsMode::kLast;
  float* logits = nullptr;  // kLast: [n_vocab]; kAll: [tokens.size()][n_vocab]; kNone: unused
};

struct ForwardOptions {
  GdnMode gdn_mode = GdnMode::kAuto;
};

class Model {
 public:
  // Maps and binds a GGUF file.
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  // Binds an already-open file (from_memory images must outlive the model).
  static Result<std::unique_ptr<Model>> from_gguf(gguf::GgufFile file);
  // repack_for_kernels = false keeps every matrix in the file's row-major layout (tests compare
  // the two; HEARTH_REPACK=0 does the same for the whole process).
  static Result<std::unique_ptr<Model>> from_gguf(gguf::GgufFile file, bool repack_for_kernels);

  const HParams& hparams() const { return hp_; }
  const ModelWeights& weights() const { return w_; }
  const gguf::GgufFile& file() const { return *file_; }
  int64_t n_vocab() const { return hp_.n_vocab; }

  SequenceState new_sequence(KvType kv_type = KvType::kF16) const {
    return SequenceState(hp_, kv_type);
  }

  // Runs every entry's tokens through the model, advancing each state. Entries must use
  // distinct states. Thread-safe across calls with different states (weights are read-only).
  Status forward(std::span<BatchEntry> batch, ThreadPool& pool,
                 const ForwardOptions& options = {}) const;

 private:
  Model() = default;
  std::unique_ptr<gguf::GgufFile> file_;
  HParams hp_;
  ModelWeights w_;
  std::vector<AlignedBuffer> repacked_;  // matrices copied into the kernels' faster layout
};

// Per-architecture FFN forward (qwen35.cpp / qwen35_moe.cpp). x, out: [n][D].
void dense_ffn_forward(const HParams& hp, const LayerWeights& lw, const float* x, int64_t n,
                       float* out, ThreadPool& pool);
void moe_ffn_forward(const HParams& hp, const LayerWeights& lw, const float* x, int64_t n,
                     float* out, ThreadPool& pool);

}  // namespace hearth::model
