// Per-sequence recurrent state and chunked KV cache.
#include "model/state.h"

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
    kv.k_chunks.clear();
    kv.v_chunks.clear();
  }
}

void SequenceState::reserve_tokens(int64_t n_tokens) {
  const int64_t n_chunks = (n_tokens + kKvChunkTokens - 1) / kKvChunkTokens;
  for (auto& kv : kv_) {
    while (static_cast<int64_t>(kv.k_chunks.size()) < n_chunks) {
      kv.k_chunks.emplace_back(kKvChunkTokens * kv_row_bytes_);
      kv.v_chunks.emplace_back(kKvChunkTokens * kv_row_bytes_);
    }
  }
}

size_t SequenceState::memory_bytes() const {
  size_t n = gdn_.size() * (conv_elems_ + rec_elems_) * sizeof(float);
  for (const auto& kv : kv_) {
    n += (kv.k_chunks.size() + kv.v_chunks.size()) * kKvChunkTokens * kv_row_bytes_;
  }
  return n;
}

bool SequenceState::shaped_for(const HParams& hp) const {
  return n_layer_ == hp.n_layer && kv_row_ == hp.n_head_kv * hp.head_dim &&
         conv_elems_ == (hp.conv_kernel - 1) * hp.conv_dim() &&
         rec_elems_ == hp.ssm_v_heads * hp.ssm_k_dim * hp.ssm_v_dim &&
         static_cast<int64_t>(kv_.size()) == hp.n_attention_layers();
}

}  // namespace hearth::model
