// SequenceState: everything one sequence carries between forward calls — the GDN conv and
// recurrent states (f32) and the full-attention KV cache (f16, grown in fixed-size chunks as
// tokens arrive; nothing is reserved for the maximum context). Copyable: a copy is a snapshot.
#pragma once

#include <cstdint>
#include <vector>

#include "model/hparams.h"
#include "tensor/dtype.h"

namespace hearth::model {

// Element type of the KV cache. Q8_0 halves the cache (34 bytes per 32 values vs 64) at a small
// accuracy cost; it needs head_dim to be a multiple of 32.
enum class KvType { kF16, kQ8_0 };

class SequenceState {
 public:
  static constexpr int64_t kKvChunkTokens = 256;  // tokens per KV cache chunk

  SequenceState() = default;
  explicit SequenceState(const HParams& hp, KvType kv_type = KvType::kF16);

  KvType kv_type() const { return kv_type_; }
  DType kv_dtype() const { return kv_type_ == KvType::kF16 ? DType::kF16 : DType::kQ8_0; }

  int64_t n_past() const { return n_past_; }  // tokens processed so far (next position)
  void reset();                               // back to an empty sequence, keeps the shape
  size_t memory_bytes() const;

  // Snapshot / restore are plain deep copies (weights are not part of the state).
  SequenceState snapshot() const { return *this; }
  void restore(const SequenceState& snap) { *this = snap; }

  // ---- used by the forward pass ----
  struct GdnLayerState {
    std::vector<float> conv;       // [Kc-1][conv_dim] raw pre-conv inputs, oldest first
    std::vector<float> recurrent;  // [Hv][dk][dv] S[i][j] at i*dv + j
  };
  struct KvLayerCache {
    std::vector<std::vector<uint8_t>> k_chunks;  // each [kKvChunkTokens][Hkv * dh] of kv_dtype()
    std::vector<std::vector<uint8_t>> v_chunks;  // each [kKvChunkTokens][Hkv * dh] of kv_dtype()
  };
  GdnLayerState& gdn(int64_t layer) { return gdn_[slot_[layer]]; }
  KvLayerCache& kv(int64_t layer) { return kv_[slot_[layer]]; }
  const KvLayerCache& kv(int64_t layer) const { return kv_[slot_[layer]]; }
  // Makes sure every attention layer has room for `n_tokens` positions in total.
  void reserve_tokens(int64_t n_tokens);
  // K (or V) row of token `pos` in an attention layer: [Hkv * dh] values of kv_dtype(), head j
  // starting at byte j * kv_head_bytes().
  uint8_t* k_at(int64_t layer, int64_t pos) {
    return kv_[slot_[layer]].k_chunks[pos / kKvChunkTokens].data() +
           (pos % kKvChunkTokens) * kv_row_bytes_;
  }
  uint8_t* v_at(int64_t layer, int64_t pos) {
    return kv_[slot_[layer]].v_chunks[pos / kKvChunkTokens].data() +
           (pos % kKvChunkTokens) * kv_row_bytes_;
  }
  size_t kv_head_bytes() const { return kv_head_bytes_; }
  void advance(int64_t n) { n_past_ += n; }
  bool shaped_for(const HParams& hp) const;

 private:
  int64_t n_past_ = 0;
  KvType kv_type_ = KvType::kF16;
  int64_t kv_row_ = 0;        // Hkv * dh values
  size_t kv_row_bytes_ = 0;   // bytes of one token's K (or V) row
  size_t kv_head_bytes_ = 0;  // bytes of one head (dh values)
  int64_t n_layer_ = 0;
  std::vector<int64_t> slot_;       // [n_layer] index into gdn_ or kv_
  std::vector<GdnLayerState> gdn_;  // [n_recurrent_layers]
  std::vector<KvLayerCache> kv_;    // [n_attention_layers]
  int64_t conv_elems_ = 0;          // (Kc-1) * conv_dim
  int64_t rec_elems_ = 0;           // Hv * dk * dv
};

}  // namespace hearth::model
