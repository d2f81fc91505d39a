// SequenceState: everything one sequence carries between forward calls — the GDN conv and
// recurrent states (f32) and the full-attention KV cache (f16 or q8_0, grown in fixed-size chunks
// as tokens arrive; nothing is reserved for the maximum context).
//
// Sharing: KV chunks are reference-counted. A copy (snapshot()) copies the GDN state and the chunk
// *pointers*, so a prefix-cache checkpoint and every sequence resumed from it share the immutable
// KV prefix. A chunk is copied (copy-on-write) only when a state is about to write into a chunk
// that another state also holds — in practice the partially filled last chunk. reserve_tokens()
// does that unsharing, single-threaded, before the forward pass writes; k_at()/v_at() never
// allocate or copy, so the parallel attention code may call them freely.
// States are not thread-safe: one thread (the engine's) owns and copies them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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

  // One chunk of one layer's K (or V) cache: [kKvChunkTokens][Hkv * dh] of kv_dtype().
  using KvChunk = std::shared_ptr<uint8_t[]>;

  SequenceState() = default;
  explicit SequenceState(const HParams& hp, KvType kv_type = KvType::kF16);

  KvType kv_type() const { return kv_type_; }
  DType kv_dtype() const { return kv_type_ == KvType::kF16 ? DType::kF16 : DType::kQ8_0; }

  int64_t n_past() const { return n_past_; }  // tokens processed so far (next position)
  void reset();                               // back to an empty sequence, keeps the shape

  // ---- memory accounting ----
  // memory_bytes(): everything this state references, shared chunks counted in full — what it
  // would cost if it were the only holder (and what it keeps alive at worst).
  // owned_memory_bytes(): the GDN state plus the chunks no other state holds — what destroying
  // this state frees right now. Summing memory_bytes() over states that share chunks counts
  // those chunks several times; to count a set of states once, walk for_each_kv_chunk() and
  // count each distinct chunk id once (PrefixCache and the engine's stats do that).
  size_t memory_bytes() const;
  size_t owned_memory_bytes() const;
  size_t recurrent_bytes() const;  // GDN conv + recurrent state (never shared)
  size_t kv_chunk_bytes() const { return static_cast<size_t>(kKvChunkTokens) * kv_row_bytes_; }
  size_t kv_chunk_count() const;  // K and V chunks over all attention layers
  // Calls fn(id) for every K and V chunk; `id` identifies the chunk's storage across states.
  void for_each_kv_chunk(const std::function<void(const void* id)>& fn) const;
  // Number of K/V chunks this state shares with at least one other holder.
  size_t shared_kv_chunk_count() const;

  // A snapshot shares the KV chunks (copy-on-write) and deep-copies the GDN state.
  SequenceState snapshot() const { return *this; }
  void restore(const SequenceState& snap) { *this = snap; }

  // ---- used by the forward pass ----
  struct GdnLayerState {
    std::vector<float> conv;       // [Kc-1][conv_dim] raw pre-conv inputs, oldest first
    std::vector<float> recurrent;  // [Hv][dk][dv] S[i][j] at i*dv + j
  };
  struct KvLayerCache {
    std::vector<KvChunk> k_chunks;  // each [kKvChunkTokens][Hkv * dh] of kv_dtype()
    std::vector<KvChunk> v_chunks;  // each [kKvChunkTokens][Hkv * dh] of kv_dtype()
  };
  GdnLayerState& gdn(int64_t layer) { return gdn_[slot_[layer]]; }
  // Read-only: writing through a chunk pointer would bypass copy-on-write.
  const KvLayerCache& kv(int64_t layer) const { return kv_[slot_[layer]]; }
  // Makes sure every attention layer has room for `n_tokens` positions in total, and that the
  // chunks holding positions [n_past(), n_tokens) belong to this state alone (copying any that
  // are shared), so the forward pass may write there. Call before each forward, single-threaded.
  void reserve_tokens(int64_t n_tokens);
  // K (or V) row of token `pos` in an attention layer: [Hkv * dh] values of kv_dtype(), head j
  // starting at byte j * kv_head_bytes(). Write only rows at positions made writable by
  // reserve_tokens() (pos >= n_past()); rows before n_past() may be shared with snapshots.
  uint8_t* k_at(int64_t layer, int64_t pos) {
    return kv_[slot_[layer]].k_chunks[pos / kKvChunkTokens].get() +
           (pos % kKvChunkTokens) * kv_row_bytes_;
  }
  uint8_t* v_at(int64_t layer, int64_t pos) {
    return kv_[slot_[layer]].v_chunks[pos / kKvChunkTokens].get() +
           (pos % kKvChunkTokens) * kv_row_bytes_;
  }
  const uint8_t* k_at(int64_t layer, int64_t pos) const {
    return kv_[slot_[layer]].k_chunks[pos / kKvChunkTokens].get() +
           (pos % kKvChunkTokens) * kv_row_bytes_;
  }
  const uint8_t* v_at(int64_t layer, int64_t pos) const {
    return kv_[slot_[layer]].v_chunks[pos / kKvChunkTokens].get() +
           (pos % kKvChunkTokens) * kv_row_bytes_;
  }
  size_t kv_head_bytes() const { return kv_head_bytes_; }
  size_t kv_row_bytes() const { return kv_row_bytes_; }
  void advance(int64_t n) { n_past_ += n; }
  bool shaped_for(const HParams& hp) const;

 private:
  KvChunk new_chunk() const;
  void make_unique(KvChunk& chunk) const;

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
