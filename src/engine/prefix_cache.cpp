// PrefixCache implementation: linear scan over a handful of checkpoints (entries are large
// snapshots, so there are few of them), LRU by list order, KV chunks counted once via a
// reference map.
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
  const size_t own = state.recurrent_bytes() + tokens.size() * sizeof(int32_t);
  if (own + state.kv_chunk_count() * state.kv_chunk_bytes() > max_bytes_) return;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->tokens.size() == tokens.size() &&
        std::equal(it->tokens.begin(), it->tokens.end(), tokens.begin())) {
      erase(it);
      break;
    }
  }
  Entry e;
  e.tokens.assign(tokens.begin(), tokens.end());
  e.state = std::make_shared<const model::SequenceState>(state.snapshot());
  e.own_bytes = own;
  add(std::move(e));
  // Evict from the old end, never the new entry: it fits alone (checked above), so this ends.
  // Evicting may not lower bytes() when the victim's chunks are shared with newer entries;
  // the loop then just goes on to the next.
  while (bytes_ > max_bytes_ && entries_.size() > 1) erase(std::prev(entries_.end()));
}

void PrefixCache::add(Entry e) {
  bytes_ += e.own_bytes;
  const size_t chunk_bytes = e.state->kv_chunk_bytes();
  e.state->for_each_kv_chunk([&](const void* id) {
    if (chunk_refs_[id]++ == 0) bytes_ += chunk_bytes;
  });
  entries_.push_front(std::move(e));
}

std::list<PrefixCache::Entry>::iterator PrefixCache::erase(std::list<Entry>::iterator it) {
  bytes_ -= it->own_bytes;
  const size_t chunk_bytes = it->state->kv_chunk_bytes();
  it->state->for_each_kv_chunk([&](const void* id) {
    auto ref = chunk_refs_.find(id);
    if (ref != chunk_refs_.end() && --ref->second == 0) {
      chunk_refs_.erase(ref);
      bytes_ -= chunk_bytes;
    }
  });
  return entries_.erase(it);
}

void PrefixCache::clear() {
  entries_.clear();
  chunk_refs_.clear();
  bytes_ = 0;
}

}  // namespace hearth::engine
