// Engine: one thread that owns the model's mutable state and runs every request through
// continuous batching. Callers submit token ids + sampling parameters + limits and read a stream
// of events from a RequestHandle (thread-safe); a request can be cancelled at any time and its
// state is freed at the next step. Each step combines one decode token of every running sequence
// with prefill chunks of waiting prompts under a token budget, runs them as one forward call, and
// samples per sequence. Prompt prefixes are reused from state checkpoints (PrefixCache).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace hearth::engine {

class PrefixCache;

enum class FinishReason {
  kStop,       // an end-of-generation token or a stop string
  kLength,     // max_tokens reached, or the sequence filled its context
  kCancelled,  // the caller cancelled
  kError,
};
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled", "error"

struct Request {
  std::vector<int32_t> prompt;  // token ids, already rendered and tokenised
  sampling::SamplingParams sampling;
  int64_t max_tokens = -1;           // < 0: until the context is full
  std::vector<std::string> stop;     // stop strings (not emitted)
  std::vector<int32_t> stop_tokens;  // in addition to the tokenizer's end-of-generation ids
  bool ignore_eos = false;           // do not stop at end-of-generation ids
  bool return_logits = false;        // copy each step's logits into the token events (tests)
  // Structured output: a fresh constraint per request; null = unconstrained.
  std::function<std::unique_ptr<sampling::TokenConstraint>()> make_constraint;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens taken from the prefix cache (not recomputed)
  int64_t completion_tokens = 0;
};

struct Event {
  enum class Kind { kToken, kFinished };
  Kind kind = Kind::kToken;
  // kToken
  int32_t token = -1;
  std::string text;  // text that became safe to show (may be empty: held back)
  float logprob = 0;
  std::vector<sampling::TokenLogprob> top_logprobs;
  std::vector<float> logits;  // [n_vocab] when Request::return_logits
  // kFinished (text carries any final released text)
  FinishReason finish = FinishReason::kStop;
  std::string stop_matched;  // the stop string, when one matched
  Usage usage;
  Status error;  // when finish == kError
};

class RequestHandle {
 public:
  // The next event; nullopt when the timeout passes first. After kFinished nothing more comes.
  std::optional<Event> next(std::chrono::milliseconds timeout = std::chrono::hours(24 * 365));
  // Stops the request; a kFinished event with kCancelled follows (unless it already finished).
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  uint64_t id() const { return id_; }

 private:
  friend class Engine;
  void push(Event e);
  uint64_t id_ = 0;
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Event> events_;
};

struct EngineOptions {
  int n_threads = 0;                // 0: one per physical core
  int max_sequences = 8;            // sequences decoded together
  int64_t context_length = 0;       // per sequence; 0: min(model's, 32768)
  int64_t step_token_budget = 512;  // tokens per forward step (decode + prefill chunks)
  size_t prefix_cache_bytes = size_t{1} << 30;
  int64_t checkpoint_interval = 2048;  // prefill tokens between prefix-cache checkpoints
  size_t max_waiting = 256;            // queued requests beyond which submit() fails
  // Bytes of KV cache + recurrent state the running sequences may reserve (each reserves what it
  // needs at prompt + max_tokens). A request waits while others hold the memory and fails with a
  // clear error when it could never fit. 0: 3/4 of the memory available when the engine starts.
  // A sequence resumed from a checkpoint still reserves its whole state: the KV chunks it shares
  // with the prefix cache stay alive through the sequence if the cache evicts them.
  uint64_t state_memory_budget = 0;
};

struct EngineStats {
  int running = 0;
  int waiting = 0;
  uint64_t requests_finished = 0;
  uint64_t prefix_hits = 0;
  uint64_t prefix_misses = 0;
  uint64_t prompt_tokens = 0;  // prompt tokens submitted
  uint64_t prompt_tokens_cached = 0;
  uint64_t prefill_tokens = 0;  // prompt tokens actually computed
  uint64_t generated_tokens = 0;
  uint64_t steps = 0;
  size_t cache_bytes = 0;
  size_t cache_entries = 0;
  size_t state_bytes = 0;       // live sequence state (KV + recurrent) not in cache_bytes:
                                // KV chunks shared with checkpoints count once, there
  uint64_t state_reserved = 0;  // reserved by running sequences (<= state_memory_budget)
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> create(
      std::shared_ptr<const model::Model> model,
      std::shared_ptr<const tokenizer::Tokenizer> tokenizer, const EngineOptions& options);
  ~Engine();  // cancels everything and joins the engine thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates and queues a request. Errors: empty prompt, token id outside the vocabulary,
  // prompt not shorter than the context (the message gives both numbers), bad sampling
  // parameters, queue full (kResourceExhausted).
  Result<std::shared_ptr<RequestHandle>> submit(Request request);

  EngineStats stats() const;
  const EngineOptions& options() const { return options_; }
  int64_t context_length() const { return options_.context_length; }
  const model::Model& model() const { return *model_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  struct Sequence;
  Engine(std::shared_ptr<const model::Model> model,
         std::shared_ptr<const tokenizer::Tokenizer> tokenizer, const EngineOptions& options);
  void run();
  void admit_waiting();
  bool step();
  // Samples the next token of every sequence in `seqs` from its logits (in parallel on `pool`),
  // then emits each token / finish event in order.
  void sample_all(const std::vector<Sequence*>& seqs, ThreadPool& pool);
  void emit_sampled(Sequence& seq, Result<sampling::SampledToken> sampled, Event ev);
  void finish(Sequence& seq, FinishReason reason, Status error = Status::ok());
  void reap_finished();

  std::shared_ptr<const model::Model> model_;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  EngineOptions options_;

  mutable std::mutex mutex_;  // guards incoming_, stop_, stats_
  std::condition_variable wake_;
  std::deque<std::pair<std::shared_ptr<RequestHandle>, Request>> incoming_;
  bool stop_ = false;
  EngineStats stats_;
  std::atomic<uint64_t> next_id_{1};

  // Engine-thread state.
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;
  std::unique_ptr<PrefixCache> cache_;
  uint64_t reserved_ = 0;  // state memory reserved by running sequences
  std::thread thread_;
};

}  // namespace hearth::engine
