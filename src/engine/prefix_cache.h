// PrefixCache: token prefix -> sequence-state checkpoint. The Gated DeltaNet state cannot be
// rolled back to an earlier position, so reuse needs a stored snapshot taken exactly at the end
// of a prefix: the engine stores one at the end of every prompt, every N tokens of a long
// prefill, and at the end of a generation. Bounded by bytes, least recently used evicted first.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <vector>

#include "model/state.h"

namespace hearth::engine {

class PrefixCache {
 public:
  explicit PrefixCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  struct Hit {
    size_t n_tokens = 0;                           // length of the reused prefix
    std::shared_ptr<const model::SequenceState> state;  // state after those tokens
  };

  // Longest stored prefix of `tokens` that is at most `max_len` long (callers pass
  // tokens.size() - 1 so at least one token is left to compute logits from).
  Hit lookup(std::span<const int32_t> tokens, size_t max_len);

  // Stores a checkpoint of `state` taken after exactly `tokens`. Replaces an equal key;
  // skipped when a single entry exceeds the budget.
  void insert(std::span<const int32_t> tokens, const model::SequenceState& state);

  size_t bytes() const { return bytes_; }
  size_t entries() const { return entries_.size(); }
  size_t max_bytes() const { return max_bytes_; }
  void clear();

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    std::shared_ptr<const model::SequenceState> state;
    size_t bytes = 0;
  };
  void evict_to(size_t budget);

  size_t max_bytes_;
  size_t bytes_ = 0;
  std::list<Entry> entries_;  // most recently used first
};

}  // namespace hearth::engine
