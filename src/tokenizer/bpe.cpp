// Merge table and the BPE merge loop (scan for short pieces, heap + linked list for long ones).
#include "tokenizer/bpe.h"

#include <algorithm>

namespace hearth::tokenizer::internal {

// Measured on mixed English/code/CJK text (bench_tokenizer): 64 beat 48, 128 and 256.
constexpr size_t kScanMaxSymbols = 64;

void MergeTable::reserve(size_t n_merges) {
  size_t capacity = 16;
  while (capacity < n_merges * 2) capacity *= 2;
  if (capacity > slots_.size()) rehash(capacity);
}

void MergeTable::rehash(size_t capacity) {
  std::vector<Entry> old = std::move(slots_);
  slots_.assign(capacity, Entry{});
  mask_ = capacity - 1;
  shift_ = 64;
  for (size_t c = capacity; c > 1; c >>= 1) --shift_;
  size_ = 0;
  for (const Entry& e : old) {
    if (e.key != kEmpty) {
      insert(static_cast<int32_t>(e.key >> 32), static_cast<int32_t>(e.key & 0xFFFFFFFFu), e.rank,
             e.result);
    }
  }
}

bool MergeTable::insert(int32_t left, int32_t right, int32_t rank, int32_t result) {
  if ((size_ + 1) * 2 > slots_.size()) rehash(std::max<size_t>(16, slots_.size() * 2));
  const uint64_t key = make_key(left, right);
  size_t i = hash(key);
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == key) return false;
    i = (i + 1) & mask_;
  }
  slots_[i] = Entry{key, rank, result};
  ++size_;
  return true;
}

void bpe_merge_scan(const MergeTable& merges, std::vector<int32_t>* symbols) {
  std::vector<int32_t>& s = *symbols;
  if (s.size() < 2) return;
  // rank[i] / result[i] describe the pair (s[i], s[i + 1]); each merge re-looks-up only the two
  // pairs next to it, so a piece costs ~3n table lookups plus cheap O(n^2) integer scans.
  thread_local std::vector<int32_t> rank, result;  // [s.size() - 1]
  rank.resize(s.size() - 1);
  result.resize(s.size() - 1);
  auto look_up = [&](size_t i) {
    const MergeTable::Entry* e = merges.find(s[i], s[i + 1]);
    rank[i] = e != nullptr ? e->rank : INT32_MAX;
    result[i] = e != nullptr ? e->result : -1;
  };
  for (size_t i = 0; i + 1 < s.size(); ++i) look_up(i);
  while (!rank.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < rank.size(); ++i) {
      if (rank[i] < rank[best]) best = i;  // strict: the leftmost of equal ranks wins
    }
    if (rank[best] == INT32_MAX) break;
    s[best] = result[best];
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    rank.erase(rank.begin() + static_cast<std::ptrdiff_t>(best));
    result.erase(result.begin() + static_cast<std::ptrdiff_t>(best));
    if (best > 0) look_up(best - 1);
    if (best < rank.size()) look_up(best);
  }
}

void bpe_merge_heap(const MergeTable& merges, std::vector<int32_t>* symbols) {
  std::vector<int32_t>& s = *symbols;
  const int n = static_cast<int>(s.size());
  if (n < 2) return;
  struct Candidate {
    int32_t rank;
    int left;  // slot of the left symbol; slots keep text order, so this breaks ties leftmost
    int32_t left_id, right_id;
  };
  // Min-heap order on (rank, left) for std::push_heap / pop_heap (which build max-heaps).
  auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  // Scratch reused across calls on this thread: long pieces are common in CJK text.
  thread_local std::vector<int> prev, next;  // [n] doubly linked list over symbol slots
  thread_local std::vector<Candidate> heap;
  prev.resize(n);
  next.resize(n);
  heap.clear();
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  auto push = [&](int left) {
    if (left < 0) return;
    const int right = next[left];
    if (right < 0) return;
    const MergeTable::Entry* e = merges.find(s[left], s[right]);
    if (e == nullptr) return;
    heap.push_back(Candidate{e->rank, left, s[left], s[right]});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate c = heap.back();
    heap.pop_back();
    const int right = next[c.left];
    // Stale: a side was merged since the candidate was pushed (ids change on every merge, and a
    // token's id determines its length, so equal ids mean the same symbols). A merged-away slot
    // holds id -1.
    if (s[c.left] != c.left_id || right < 0 || s[right] != c.right_id) continue;
    const MergeTable::Entry* e = merges.find(c.left_id, c.right_id);
    s[c.left] = e->result;
    s[right] = -1;
    next[c.left] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.left;
    push(prev[c.left]);
    push(c.left);
  }
  size_t out = 0;
  for (int i = 0; i >= 0; i = next[i]) s[out++] = s[i];
  s.resize(out);
}

void bpe_merge(const MergeTable& merges, std::vector<int32_t>* symbols) {
  // The scan's O(n^2) integer work beats heap bookkeeping on short pieces.
  if (symbols->size() <= kScanMaxSymbols) {
    bpe_merge_scan(merges, symbols);
  } else {
    bpe_merge_heap(merges, symbols);
  }
}

}  // namespace hearth::tokenizer::internal
