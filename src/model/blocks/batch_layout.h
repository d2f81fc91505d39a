// BatchLayout: how the concatenated tokens of one forward call split into sequences. Blocks
// run projections over all tokens at once and the per-sequence parts (conv, recurrence,
// attention over the cache) per span.
#pragma once

#include <cstdint>
#include <vector>

#include "model/state.h"

namespace hearth::model {

struct SeqSpan {
  SequenceState* state = nullptr;
  int64_t begin = 0;  // first token of this sequence in the batch
  int64_t count = 0;  // tokens of this sequence in the batch
  int64_t pos0 = 0;   // absolute position of the first token (state->n_past() before the call)
};

struct BatchLayout {
  int64_t n_tokens = 0;
  std::vector<SeqSpan> seqs;
};

// How the Gated DeltaNet recurrence is evaluated for a span of tokens.
enum class GdnMode {
  kAuto,       // recurrent for a single token, chunked for more
  kRecurrent,  // token by token (decode form)
  kChunked,    // chunked (prefill form, chunk 64)
};

}  // namespace hearth::model
