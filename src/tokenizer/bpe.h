// Merge-rank BPE over token ids: the merge table (open-addressing hash map keyed by the id pair)
// and the merge loop. Internal to the tokenizer library; exposed in a header for tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::tokenizer::internal {

class MergeTable {
 public:
  struct Entry {
    uint64_t key = kEmpty;  // (left id << 32) | right id
    int32_t rank = 0;       // merge priority: lower merges first
    int32_t result = 0;     // id of left+right
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  void reserve(size_t n_merges);
  // Returns false when the pair is already present (the earlier, lower rank is kept).
  bool insert(int32_t left, int32_t right, int32_t rank, int32_t result);
  // nullptr when the pair does not merge.
  const Entry* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = make_key(left, right);
    size_t i = hash(key);
    while (true) {
      const Entry& e = slots_[i];
      if (e.key == key) return &e;
      if (e.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return size_; }

 private:
  static uint64_t make_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  size_t hash(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_;
  }
  void rehash(size_t capacity);

  std::vector<Entry> slots_;  // [capacity], capacity a power of two, load <= 1/2
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

// Applies BPE to `symbols` (initial ids, one per byte) in place: repeatedly merges the adjacent
// pair with the lowest rank (leftmost on ties) until no pair merges. Chooses the O(n^2) scan for
// short inputs and a heap for long ones (a 1 MB piece without spaces must not take quadratic time).
void bpe_merge(const MergeTable& merges, std::vector<int32_t>* symbols);
// The two strategies, exposed so tests can check they agree.
void bpe_merge_scan(const MergeTable& merges, std::vector<int32_t>* symbols);
void bpe_merge_heap(const MergeTable& merges, std::vector<int32_t>* symbols);

}  // namespace hearth::tokenizer::internal
