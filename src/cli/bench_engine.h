// Engine benchmarks for `hearth bench`: aggregate decode throughput of N concurrent streams, and
// time to first token of a follow-up turn with and without prefix reuse.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace hearth::cli {

struct ParallelBenchResult {
  int streams = 0;
  int64_t tokens = 0;          // generated tokens, all streams
  double decode_seconds = 0;   // from the last first-token to the last token
  double aggregate_tok_s = 0;  // decode tokens / decode_seconds
  double single_tok_s = 0;     // the same with one stream
  double speedup = 0;          // aggregate_tok_s / single_tok_s
};

Result<ParallelBenchResult> bench_parallel(const std::string& model_path, int streams,
                                           int64_t n_gen, int threads);

struct ReuseBenchResult {
  int64_t context_tokens = 0;  // length of the earlier conversation
  double cold_ttft_s = 0;      // follow-up turn without a prefix cache
  double warm_ttft_s = 0;      // follow-up turn resuming from the checkpoint
  int64_t cached_tokens = 0;   // prompt tokens reused
  size_t cache_entries = 0;    // prefix-cache checkpoints after the first turn
  size_t cache_bytes = 0;      // their memory (shared KV chunks counted once)
  size_t one_state_bytes = 0;  // one sequence state (KV + GDN) at context_tokens
};

Result<ReuseBenchResult> bench_prefix_reuse(const std::string& model_path, int64_t context_tokens,
                                            int threads);

}  // namespace hearth::cli
