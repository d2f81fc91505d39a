// Per-sequence recurrent state and chunked, copy-on-write shared KV cache.
#include "model/state.h"

#include <algorithm>
#include <cstring>

namespace hearth::model {

SequenceState::SequenceState(const HParams& hp, KvType kv_type) {
  n_layer_ = hp.n_layer;
  kv_row_ = hp.n_head_kv * hp.head_dim;
  // Q8_0 blocks must not straddle heads; otherwise keep f16.
  kv_type_ = kv_type == KvType::kQ8_0 && hp.head_dim % block_size(DType::kQ8_0) == 0 ? KvType::kQ8_0
                                                                                     : KvType::kF16;
  kv_row_bytes_ = row_bytes(kv_dtype(), kv_row_);
  kv_head_bytes_ = row_bytes(kv_dtype(), hp.head_dim);
  conv_elems_ = (hp.conv_kernel - 1) * hp.conv_dim();
  rec_elems_ = hp.ssm_v_heads * hp.ssm_k_dim * hp.ssm_v_dim;
  slot_.resize(hp.n_layer);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    if (hp.is_recurrent[i]) {
      slot_[i] = static_cast<int64_t>(gdn_.size());
      GdnLayerState g;
      g.conv.assign(conv_elems_, 0.0f);
      g.recurrent.assign(rec_elems_, 0.0f);
      gdn_.push_back(std::move(g));
    } else {
      slot_[i] = static_cast<int64_t>(kv_.size());
      kv_.emplace_back();
    }
  }
}

void SequenceState::reset() {
  n_past_ = 0;
  for (auto& g : gdn_) {
    std::fill(g.conv.begin(), g.conv.end(), 0.0f);
    std::fill(g.recurrent.begin(), g.recurrent.end(), 0.0f);
  }
  for (auto& kv : kv_) {
    kv.k_chunks.clear();  // drops this state's references only; snapshots keep theirs
    kv.v_chunks.clear();
  }
}

SequenceState::KvChunk SequenceState::new_chunk() const {
  // Zeroed so that rows never written (beyond n_past) hold no stale data in a dump.
  return std::make_shared<uint8_t[]>(kv_chunk_bytes());
}

void SequenceState::make_unique(KvChunk& chunk) const {
  if (chunk.use_count() <= 1) return;
  KvChunk copy = std::make_shared_for_overwrite<uint8_t[]>(kv_chunk_bytes());
  std::memcpy(copy.get(), chunk.get(), kv_chunk_bytes());
  chunk = std::move(copy);
}

void SequenceState::reserve_tokens(int64_t n_tokens) {
  const int64_t n_chunks = (n_tokens + kKvChunkTokens - 1) / kKvChunkTokens;
  // Chunks that will be written: from the one holding n_past up to the last needed. Earlier
  // chunks are only read, so they stay shared.
  const int64_t first_written = n_past_ / kKvChunkTokens;
  for (auto& kv : kv_) {
    const int64_t have = static_cast<int64_t>(kv.k_chunks.size());
    for (int64_t c = first_written; c < std::min(have, n_chunks); ++c) {
      make_unique(kv.k_chunks[c]);
      make_unique(kv.v_chunks[c]);
    }
    while (static_cast<int64_t>(kv.k_chunks.size()) < n_chunks) {
      kv.k_chunks.push_back(new_chunk());
      kv.v_chunks.push_back(new_chunk());
    }
  }
}

size_t SequenceState::recurrent_bytes() const {
  return gdn_.size() * static_cast<size_t>(conv_elems_ + rec_elems_) * sizeof(float);
}

size_t SequenceState::kv_chunk_count() const {
  size_t n = 0;
  for (const auto& kv : kv_) n += kv.k_chunks.size() + kv.v_chunks.size();
  return n;
}

size_t SequenceState::memory_bytes() const {
  return recurrent_bytes() + kv_chunk_count() * kv_chunk_bytes();
}

size_t SequenceState::shared_kv_chunk_count() const {
  size_t n = 0;
  for (const auto& kv : kv_) {
    for (const auto& c : kv.k_chunks) n += c.use_count() > 1 ? 1 : 0;
    for (const auto& c : kv.v_chunks) n += c.use_count() > 1 ? 1 : 0;
  }
  return n;
}

size_t SequenceState::owned_memory_bytes() const {
  return recurrent_bytes() + (kv_chunk_count() - shared_kv_chunk_count()) * kv_chunk_bytes();
}

void SequenceState::for_each_kv_chunk(const std::function<void(const void* id)>& fn) const {
  for (const auto& kv : kv_) {
    for (const auto& c : kv.k_chunks) fn(c.get());
    for (const auto& c : kv.v_chunks) fn(c.get());
  }
}

bool SequenceState::shaped_for(const HParams& hp) const {
  return n_layer_ == hp.n_layer && kv_row_ == hp.n_head_kv * hp.head_dim &&
         conv_elems_ == (hp.conv_kernel - 1) * hp.conv_dim() &&
         rec_elems_ == hp.ssm_v_heads * hp.ssm_k_dim * hp.ssm_v_dim &&
         static_cast<int64_t>(kv_.size()) == hp.n_attention_layers();
}

}  // namespace hearth::model
