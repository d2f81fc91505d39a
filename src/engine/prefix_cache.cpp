// PrefixCache implementation: linear scan over a handful of checkpoints (entries are large
// snapshots, so there are few of them), LRU by list order.
#include "engine/prefix_cache.h"

#include <algorithm>

namespace hearth::engine {

PrefixCache::Hit PrefixCache::lookup(std::span<const int32_t> tokens, size_t max_len) {
  Hit best;
  auto best_it = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    size_t n = it->tokens.size();
    if (n == 0 || n > max_len || n > tokens.size() || n <= best.n_tokens) continue;
    if (std::equal(it->tokens.begin(), it->tokens.end(), tokens.begin())) {
      best.n_tokens = n;
      best.state = it->state;
      best_it = it;
    }
  }
  if (best_it != entries_.end()) entries_.splice(entries_.begin(), entries_, best_it);
  return best;
}

void PrefixCache::insert(std::span<const int32_t> tokens, const model::SequenceState& state) {
  if (tokens.empty() || max_bytes_ == 0) return;
  size_t bytes = state.memory_bytes() + tokens.size() * sizeof(int32_t);
  if (bytes > max_bytes_) return;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->tokens.size() == tokens.size() &&
        std::equal(it->tokens.begin(), it->tokens.end(), tokens.begin())) {
      bytes_ -= it->bytes;
      entries_.erase(it);
      break;
    }
  }
  evict_to(max_bytes_ - bytes);
  Entry e;
  e.tokens.assign(tokens.begin(), tokens.end());
  e.state = std::make_shared<const model::SequenceState>(state.snapshot());
  e.bytes = bytes;
  bytes_ += bytes;
  entries_.push_front(std::move(e));
}

void PrefixCache::evict_to(size_t budget) {
  while (bytes_ > budget && !entries_.empty()) {
    bytes_ -= entries_.back().bytes;
    entries_.pop_back();
  }
}

void PrefixCache::clear() {
  entries_.clear();
  bytes_ = 0;
}

}  // namespace hearth::engine
