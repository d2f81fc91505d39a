// KV chunk sharing between snapshots (prefix-cache checkpoints) and live sequences: copy-on-write
// isolation in both directions (including the partially filled last chunk), memory accounting
// (SequenceState and PrefixCache count a shared chunk once), and, on a tiny real model, that two
// sequences resumed from one snapshot continue exactly like recomputation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <utility>

#include "base/thread_pool.h"
#include "engine/prefix_cache.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace hearth::engine {
namespace {

using model::SequenceState;
constexpr int64_t kChunk = SequenceState::kKvChunkTokens;

// Small hand-made shape: 4 layers, attention at 1 and 3, 2 KV heads of 32.
model::HParams small_hparams() {
  model::HParams hp;
  hp.n_layer = 4;
  hp.n_head = 4;
  hp.n_head_kv = 2;
  hp.head_dim = 32;
  hp.conv_kernel = 4;
  hp.ssm_k_heads = 1;
  hp.ssm_v_heads = 2;
  hp.ssm_k_dim = 8;
  hp.ssm_v_dim = 8;
  hp.is_recurrent = {true, false, true, false};
  return hp;
}
const int64_t kAttnLayers[] = {1, 3};

// A byte pattern that depends on (tag, layer, pos, K/V, byte) so any mix-up shows.
uint8_t pattern(int tag, int64_t layer, int64_t pos, int kv, size_t i) {
  return static_cast<uint8_t>(tag * 131 + layer * 31 + pos * 7 + kv * 3 + i);
}

// Writes rows [n_past, n_past + n) the way the forward pass does: reserve, write, advance.
void append(SequenceState& s, int64_t n, int tag) {
  const int64_t p0 = s.n_past();
  s.reserve_tokens(p0 + n);
  for (int64_t layer : kAttnLayers) {
    for (int64_t p = p0; p < p0 + n; ++p) {
      for (size_t i = 0; i < s.kv_row_bytes(); ++i) {
        s.k_at(layer, p)[i] = pattern(tag, layer, p, 0, i);
        s.v_at(layer, p)[i] = pattern(tag, layer, p, 1, i);
      }
    }
  }
  s.gdn(0).recurrent[0] = static_cast<float>(tag);
  s.advance(n);
}

// Whether rows [from, to) hold the pattern of `tag`.
bool rows_hold(const SequenceState& s, int64_t from, int64_t to, int tag) {
  for (int64_t layer : kAttnLayers) {
    for (int64_t p = from; p < to; ++p) {
      for (size_t i = 0; i < s.kv_row_bytes(); ++i) {
        if (s.k_at(layer, p)[i] != pattern(tag, layer, p, 0, i)) return false;
        if (s.v_at(layer, p)[i] != pattern(tag, layer, p, 1, i)) return false;
      }
    }
  }
  return true;
}

TEST(KvSharing, SnapshotSharesChunksAndCopiesThePartialOneOnWrite) {
  SequenceState live(small_hparams());
  append(live, 300, 1);               // chunk 0 full, chunk 1 partially filled
  const size_t n_chunks = 2 * 2 * 2;  // 2 chunks x (K, V) x 2 attention layers
  ASSERT_EQ(live.kv_chunk_count(), n_chunks);
  EXPECT_EQ(live.shared_kv_chunk_count(), 0u);
  EXPECT_EQ(live.owned_memory_bytes(), live.memory_bytes());

  const SequenceState snap = live.snapshot();
  EXPECT_EQ(snap.k_at(1, 0), std::as_const(live).k_at(1, 0));  // shared storage
  EXPECT_EQ(snap.v_at(3, 299), std::as_const(live).v_at(3, 299));
  EXPECT_EQ(live.shared_kv_chunk_count(), n_chunks);
  EXPECT_EQ(snap.memory_bytes(), live.memory_bytes());
  // Only the GDN state is owned: the KV is held by both.
  EXPECT_EQ(live.owned_memory_bytes(), live.recurrent_bytes());

  // The live sequence writes into the shared partial chunk: it gets its own copy of chunk 1;
  // the full chunk 0 stays shared.
  append(live, 20, 2);
  EXPECT_EQ(snap.k_at(1, 0), std::as_const(live).k_at(1, 0));
  EXPECT_NE(snap.k_at(1, 299), std::as_const(live).k_at(1, 299));
  EXPECT_EQ(live.shared_kv_chunk_count(), n_chunks / 2);
  EXPECT_TRUE(rows_hold(live, 0, 300, 1));  // the copy kept the old rows
  EXPECT_TRUE(rows_hold(live, 300, 320, 2));
  EXPECT_TRUE(rows_hold(snap, 0, 300, 1));  // the snapshot did not see the new rows
  EXPECT_FALSE(rows_hold(snap, 300, 301, 2));
  EXPECT_EQ(snap.n_past(), 300);
  EXPECT_EQ(snap.kv_chunk_count(), n_chunks);
  EXPECT_EQ(live.gdn(0).recurrent[0], 2.0f);
  EXPECT_EQ(SequenceState(snap).gdn(0).recurrent[0], 1.0f);  // GDN state is a deep copy

  // Growing into fresh chunks shares nothing new.
  append(live, 400, 3);
  EXPECT_EQ(live.shared_kv_chunk_count(), n_chunks / 2);
  EXPECT_TRUE(rows_hold(snap, 0, 300, 1));
  // reset() drops the live references only.
  live.reset();
  EXPECT_EQ(live.kv_chunk_count(), 0u);
  EXPECT_TRUE(rows_hold(snap, 0, 300, 1));
  EXPECT_EQ(snap.shared_kv_chunk_count(), 0u);
}

TEST(KvSharing, ResumedSequenceWritesDoNotReachTheSnapshotOrTheOrigin) {
  SequenceState origin(small_hparams());
  append(origin, 2 * kChunk + 10, 1);
  const SequenceState snap = origin.snapshot();
  SequenceState resumed = snap;  // what the engine does with a prefix-cache hit
  append(resumed, 30, 2);
  EXPECT_TRUE(rows_hold(resumed, 0, 2 * kChunk + 10, 1));
  EXPECT_TRUE(rows_hold(resumed, 2 * kChunk + 10, 2 * kChunk + 40, 2));
  EXPECT_TRUE(rows_hold(snap, 0, 2 * kChunk + 10, 1));
  EXPECT_FALSE(rows_hold(snap, 2 * kChunk + 10, 2 * kChunk + 11, 2));
  EXPECT_FALSE(rows_hold(origin, 2 * kChunk + 10, 2 * kChunk + 11, 2));
  // ...and the origin's later writes do not reach the resumed sequence either.
  append(origin, 30, 3);
  EXPECT_TRUE(rows_hold(origin, 2 * kChunk + 10, 2 * kChunk + 40, 3));
  EXPECT_TRUE(rows_hold(resumed, 2 * kChunk + 10, 2 * kChunk + 40, 2));
  EXPECT_TRUE(rows_hold(snap, 0, 2 * kChunk + 10, 1));
  // Full chunks 0 and 1 are still one storage for all three.
  EXPECT_EQ(snap.k_at(3, 0), std::as_const(origin).k_at(3, 0));
  EXPECT_EQ(snap.k_at(3, kChunk), std::as_const(resumed).k_at(3, kChunk));
  EXPECT_NE(std::as_const(origin).k_at(3, 2 * kChunk), std::as_const(resumed).k_at(3, 2 * kChunk));
  // A snapshot taken at a chunk boundary never needs a copy.
  SequenceState aligned(small_hparams());
  append(aligned, kChunk, 1);
  const SequenceState aligned_snap = aligned.snapshot();
  const uint8_t* before = std::as_const(aligned).k_at(1, 0);
  append(aligned, 5, 2);
  EXPECT_EQ(std::as_const(aligned).k_at(1, 0), before);
  EXPECT_EQ(aligned_snap.k_at(1, 0), before);
}

TEST(KvSharing, Q8CacheChunksShareToo) {
  SequenceState s(small_hparams(), model::KvType::kQ8_0);
  ASSERT_EQ(s.kv_type(), model::KvType::kQ8_0);
  append(s, 100, 1);
  const SequenceState snap = s.snapshot();
  append(s, 10, 2);
  EXPECT_TRUE(rows_hold(snap, 0, 100, 1));
  EXPECT_TRUE(rows_hold(s, 0, 100, 1));
  EXPECT_TRUE(rows_hold(s, 100, 110, 2));
}

// One long conversation checkpointed at chunk-aligned points (the engine's checkpoint interval)
// and at odd lengths (end of a prompt, end of a generation) costs about one copy of its KV, not
// one per checkpoint: only a checkpoint ending inside a chunk adds a copy of that one chunk (per
// K/V and layer), made when the live sequence next writes into it.
TEST(KvSharing, CheckpointsOfOneConversationCostAboutOneCopy) {
  SequenceState live(small_hparams());
  PrefixCache cache(size_t{1} << 30);
  std::vector<int32_t> tokens;
  size_t n_checkpoints = 0;
  int tag = 1;
  auto grow = [&](int64_t n) {
    append(live, n, tag++);
    for (int64_t i = 0; i < n; ++i) tokens.push_back(static_cast<int32_t>(tokens.size() % 1000));
  };
  for (int turn = 0; turn < 8; ++turn) {
    grow(1024 - (turn == 0 ? 0 : 77));  // back to a chunk boundary
    cache.insert(tokens, live);
    ++n_checkpoints;
    grow(77);  // an odd length: the checkpoint holds a partial chunk
    cache.insert(tokens, live);
    ++n_checkpoints;
  }
  ASSERT_EQ(cache.entries(), n_checkpoints);
  const size_t one_copy = live.memory_bytes();
  size_t own = 0;  // GDN states + token keys of all entries
  size_t key_tokens = 0;
  {
    // Recompute the expected distinct-chunk bytes independently of the cache's bookkeeping.
    std::set<const void*> distinct;
    for (size_t len = 0; len < tokens.size(); ++len) {
      auto hit = cache.lookup(tokens, len + 1);
      if (hit.n_tokens != len + 1) continue;
      hit.state->for_each_kv_chunk([&](const void* id) { distinct.insert(id); });
      own += hit.state->recurrent_bytes();
      key_tokens += hit.n_tokens;
    }
    EXPECT_EQ(distinct.size(), cache.kv_chunks());
    EXPECT_EQ(cache.bytes(), distinct.size() * live.kv_chunk_bytes() + own + key_tokens * 4);
  }
  const size_t kv_once = live.kv_chunk_count() * live.kv_chunk_bytes();
  const size_t kv_cached = cache.bytes() - own - key_tokens * 4;
  // Each odd-length checkpoint but the last (whose partial chunk the live state still shares)
  // adds one extra copy of a partial chunk per K/V and layer.
  EXPECT_EQ(kv_cached, kv_once + (n_checkpoints / 2 - 1) * 4 * live.kv_chunk_bytes());
  size_t naive = 0;  // what deep copies would cost
  for (size_t len = 0; len < tokens.size(); ++len) {
    auto hit = cache.lookup(tokens, len + 1);
    if (hit.n_tokens == len + 1) naive += hit.state->memory_bytes();
  }
  EXPECT_GT(naive, 6 * cache.bytes());
  std::printf(
      "%zu checkpoints of a %zu-token conversation: %zu KiB shared vs %zu KiB as deep "
      "copies (one copy of the KV: %zu KiB)\n",
      n_checkpoints, tokens.size(), cache.bytes() >> 10, naive >> 10, one_copy >> 10);

  // Live-state accounting: the live sequence's chunks are all held by the cache except those it
  // wrote after the last checkpoint (none here).
  size_t not_in_cache = 0;
  live.for_each_kv_chunk([&](const void* id) { not_in_cache += cache.holds_chunk(id) ? 0 : 1; });
  EXPECT_EQ(not_in_cache, 0u);
  append(live, 1, 99);  // copies the partial last chunk of each K/V and layer
  live.for_each_kv_chunk([&](const void* id) { not_in_cache += cache.holds_chunk(id) ? 0 : 1; });
  EXPECT_EQ(not_in_cache, 4u);
  cache.clear();
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.kv_chunks(), 0u);
  EXPECT_EQ(live.shared_kv_chunk_count(), 0u);
}

TEST(KvSharing, CacheBoundEvictsByDistinctBytes) {
  SequenceState live(small_hparams());
  std::vector<int32_t> tokens;
  auto grow = [&](int64_t n, int tag) {
    append(live, n, tag);
    for (int64_t i = 0; i < n; ++i) tokens.push_back(static_cast<int32_t>(tokens.size()));
  };
  grow(kChunk, 1);
  SequenceState first = live.snapshot();
  std::vector<int32_t> first_tokens = tokens;
  const size_t entry1 = first.memory_bytes() + tokens.size() * 4;
  grow(kChunk, 2);
  const size_t entry2_alone = live.memory_bytes() + tokens.size() * 4;
  // Room for the second checkpoint alone, plus its shared chunk is already counted: both fit
  // although their standalone sizes add up to more than the budget.
  const size_t budget = entry2_alone + live.recurrent_bytes() + first_tokens.size() * 4;
  ASSERT_LT(budget, entry1 + entry2_alone);
  PrefixCache cache(budget);
  cache.insert(first_tokens, first);
  cache.insert(tokens, live);
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_LE(cache.bytes(), budget);
  // A third checkpoint of an unrelated sequence pushes the least recently used ones out, and the
  // byte count follows exactly.
  SequenceState other(small_hparams());
  append(other, kChunk, 7);
  std::vector<int32_t> other_tokens(kChunk, 5);
  cache.insert(other_tokens, other);
  EXPECT_LE(cache.bytes(), budget);
  EXPECT_EQ(cache.lookup(other_tokens, other_tokens.size()).n_tokens, other_tokens.size());
  size_t expect = 0;
  std::set<const void*> distinct;
  for (const auto* key : {&first_tokens, &tokens, &other_tokens}) {
    auto hit = cache.lookup(*key, key->size());
    if (hit.n_tokens != key->size()) continue;
    expect += hit.state->recurrent_bytes() + key->size() * 4;
    hit.state->for_each_kv_chunk([&](const void* id) { distinct.insert(id); });
  }
  EXPECT_EQ(cache.bytes(), expect + distinct.size() * live.kv_chunk_bytes());
  EXPECT_LT(cache.entries(), 3u);
  // An entry larger than the whole budget is skipped, leaving the cache as it was.
  PrefixCache tiny_cache(live.memory_bytes() / 2);
  tiny_cache.insert(tokens, live);
  EXPECT_EQ(tiny_cache.entries(), 0u);
  EXPECT_EQ(tiny_cache.bytes(), 0u);
}

// ---- on a real (tiny) model ----

std::shared_ptr<const model::Model> tiny_model() {
  static std::shared_ptr<const model::Model> m;
  if (m) return m;
  model::SyntheticOptions opt;
  opt.size = "tiny";
  opt.type = model::FileType::kF32;
  opt.seed = 3;
  auto vocab = model::make_synthetic_vocab();
  gguf::GgufWriter writer;
  ThreadPool pool(2);
  Status s = model::build_synthetic_model(opt, vocab, writer, pool);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  const std::string path = "/tmp/hearth_kv_sharing_test_" + std::to_string(getpid()) + ".gguf";
  s = writer.write_file(path);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  auto loaded = model::Model::load(path);
  EXPECT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  unlink(path.c_str());  // the mapping stays valid
  m = std::shared_ptr<const model::Model>(std::move(loaded).value());
  return m;
}

std::vector<int32_t> tokens_of(int64_t n, int salt, int64_t n_vocab) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i)
    t.push_back(static_cast<int32_t>((i * 37 + salt * 101 + 5) % n_vocab));
  return t;
}

std::vector<float> last_logits(const model::Model& m, model::SequenceState& s,
                               const std::vector<int32_t>& tokens, ThreadPool& pool) {
  std::vector<float> logits(static_cast<size_t>(m.n_vocab()));
  model::BatchEntry e{&s, tokens, model::LogitsMode::kLast, logits.data()};
  EXPECT_TRUE(m.forward(std::span<model::BatchEntry>(&e, 1), pool).is_ok());
  return logits;
}

TEST(KvSharing, TwoSequencesResumedFromOneSnapshotEqualRecompute) {
  auto m = tiny_model();
  ASSERT_TRUE(m);
  ThreadPool pool(2);
  const int64_t V = m->n_vocab();
  const auto prefix = tokens_of(270, 1, V);                     // ends inside the second chunk
  const auto a = tokens_of(9, 2, V), b = tokens_of(250, 3, V);  // b crosses into a third chunk
  model::SequenceState origin = m->new_sequence();
  (void)last_logits(*m, origin, prefix, pool);
  const model::SequenceState snap = origin.snapshot();
  // Both resumed sequences run in one batch, sharing chunk storage until they write.
  model::SequenceState ra = snap, rb = snap;
  std::vector<float> la(static_cast<size_t>(V)), lb(static_cast<size_t>(V));
  model::BatchEntry batch[2] = {{&ra, a, model::LogitsMode::kLast, la.data()},
                                {&rb, b, model::LogitsMode::kLast, lb.data()}};
  ASSERT_TRUE(m->forward(batch, pool).is_ok());
  // The origin goes on with yet other tokens afterwards.
  const auto c = tokens_of(5, 4, V);
  const auto lc = last_logits(*m, origin, c, pool);

  // Recompute: a fresh state runs the prefix, then the tail, in the same calls as the origin did
  // (so the arithmetic is the same and the result must be bit-identical to a resumed state run
  // alone); the batched pair may differ by rounding only.
  auto recompute = [&](const std::vector<int32_t>& tail) {
    model::SequenceState fresh = m->new_sequence();
    (void)last_logits(*m, fresh, prefix, pool);
    return last_logits(*m, fresh, tail, pool);
  };
  auto max_rel = [](const std::vector<float>& x, const std::vector<float>& y) {
    double scale = 1e-6, diff = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      scale = std::max(scale, static_cast<double>(std::fabs(y[i])));
      diff = std::max(diff, static_cast<double>(std::fabs(x[i] - y[i])));
    }
    return diff / scale;
  };
  const auto ref_a = recompute(a), ref_b = recompute(b);
  EXPECT_LT(max_rel(la, ref_a), 1e-5);
  EXPECT_LT(max_rel(lb, ref_b), 1e-5);
  EXPECT_EQ(lc, recompute(c));
  // Alone, a sequence resumed from the (still intact) snapshot is bit-identical to recompute.
  model::SequenceState again_a = snap, again_b = snap;
  EXPECT_EQ(last_logits(*m, again_a, a, pool), ref_a);
  EXPECT_EQ(last_logits(*m, again_b, b, pool), ref_b);
  EXPECT_EQ(snap.n_past(), 270);
  // Diverged: different continuations give different logits (the check above is not vacuous).
  EXPECT_GT(max_rel(ref_a, ref_b), 1e-3);
}

}  // namespace
}  // namespace hearth::engine
