// PrefixCache: token prefix -> sequence-state checkpoint. The Gated DeltaNet state cannot be
// rolled back to an earlier position, so reuse needs a stored snapshot taken exactly at the end
// of a prefix: the engine stores one at the end of every prompt, every N tokens of a long
// prefill, and at the end of a generation. Bounded by bytes, least recently used evicted first.
//
// Checkpoints share KV chunks with each other and with the live sequences they came from or
// were resumed into (SequenceState chunks are copy-on-write), so N checkpoints along one long
// conversation cost about one copy of its KV plus N GDN states. bytes() counts what the cache
// keeps alive: every entry's GDN state and token key, plus each distinct KV chunk once, however
// many entries hold it. A chunk that a live sequence also holds is counted here (the cache keeps
// it alive); the engine's live-state figure leaves such chunks out (see holds_chunk()).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/state.h"

namespace hearth::engine {

class PrefixCache {
 public:
  explicit PrefixCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  struct Hit {
    size_t n_tokens = 0;                                // length of the reused prefix
    std::shared_ptr<const model::SequenceState> state;  // state after those tokens
  };

  // Longest stored prefix of `tokens` that is at most `max_len` long (callers pass
  // tokens.size() - 1 so at least one token is left to compute logits from).
  Hit lookup(std::span<const int32_t> tokens, size_t max_len);

  // Stores a checkpoint of `state` taken after exactly `tokens` (a snapshot: KV chunks shared,
  // GDN state copied). Replaces an equal key; skipped when the entry alone (all its chunks
  // counted) exceeds the budget; evicts least recently used entries until bytes() fits.
  void insert(std::span<const int32_t> tokens, const model::SequenceState& state);

  size_t bytes() const { return bytes_; }
  size_t entries() const { return entries_.size(); }
  size_t max_bytes() const { return max_bytes_; }
  // Distinct KV chunks held by the entries.
  size_t kv_chunks() const { return chunk_refs_.size(); }
  // Whether some entry holds the KV chunk with this id (SequenceState::for_each_kv_chunk).
  bool holds_chunk(const void* id) const { return chunk_refs_.count(id) != 0; }
  void clear();

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    std::shared_ptr<const model::SequenceState> state;
    size_t own_bytes = 0;  // GDN state + token key; KV chunks are counted in chunk_refs_
  };
  void add(Entry e);  // at the front (most recently used)
  std::list<Entry>::iterator erase(std::list<Entry>::iterator it);

  size_t max_bytes_;
  size_t bytes_ = 0;
  std::list<Entry> entries_;                              // most recently used first
  std::unordered_map<const void*, uint32_t> chunk_refs_;  // chunk id -> entries holding it
};

}  // namespace hearth::engine
