// Engine implementation: admission, the batched step (decode tokens + prefill chunks under a
// token budget), per-sequence sampling / stop handling, prefix-cache checkpoints.
#include "engine/engine.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_set>

#include <unistd.h>

#include "base/log.h"
#include "base/thread_pool.h"
#include "engine/memory_estimate.h"
#include "engine/prefix_cache.h"
#include "engine/stop_matcher.h"

namespace hearth::engine {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "error";
}

// ---- RequestHandle ----

std::optional<Event> RequestHandle::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void RequestHandle::push(Event e) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(e));
  }
  ready_.notify_all();
}

// ---- Sequence ----

struct Engine::Sequence {
  Sequence(std::shared_ptr<RequestHandle> h, Request r, const tokenizer::Tokenizer& tok)
      : handle(std::move(h)),
        request(std::move(r)),
        sampler(request.sampling),
        decoder(tok, /*skip_special=*/false),
        matcher(request.stop) {}

  std::shared_ptr<RequestHandle> handle;
  Request request;
  model::SequenceState state;
  sampling::Sampler sampler;
  tokenizer::StreamDecoder decoder;
  StopMatcher matcher;
  std::unique_ptr<sampling::TokenConstraint> constraint;
  size_t prompt_done = 0;          // prompt tokens already in `state`
  std::vector<int32_t> generated;  // sampled tokens
  int32_t next_token = -1;         // sampled, not yet fed to the model
  int64_t max_tokens = 0;
  uint64_t reserved_bytes = 0;  // state memory held against the budget
  bool finished = false;
  std::string stop_matched;  // the stop string that ended it, if any
  Usage usage;
  std::vector<float> logits;  // [n_vocab]
};

// ---- Engine ----

Engine::Engine(std::shared_ptr<const model::Model> model,
               std::shared_ptr<const tokenizer::Tokenizer> tokenizer, const EngineOptions& options)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(options) {}

Result<std::unique_ptr<Engine>> Engine::create(
    std::shared_ptr<const model::Model> model,
    std::shared_ptr<const tokenizer::Tokenizer> tokenizer, const EngineOptions& options) {
  if (!model || !tokenizer) return invalid_argument_error("engine needs a model and a tokenizer");
  EngineOptions opt = options;
  int64_t model_ctx = model->hparams().context_length > 0 ? model->hparams().context_length : 32768;
  if (opt.context_length <= 0) opt.context_length = std::min<int64_t>(model_ctx, 32768);
  if (opt.context_length > model_ctx)
    return out_of_range_error(
        str_format("context length %lld exceeds the model's trained context %lld",
                   static_cast<long long>(opt.context_length), static_cast<long long>(model_ctx)));
  if (opt.max_sequences < 1) return invalid_argument_error("max_sequences must be at least 1");
  if (opt.step_token_budget < opt.max_sequences) opt.step_token_budget = opt.max_sequences;
  if (opt.checkpoint_interval < 1) opt.checkpoint_interval = 1 << 30;
  if (tokenizer->vocab_size() > model->n_vocab())
    return invalid_argument_error(str_format("tokenizer has %d tokens but the model only %lld rows",
                                             tokenizer->vocab_size(),
                                             static_cast<long long>(model->n_vocab())));
  if (opt.state_memory_budget == 0) {
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    uint64_t avail = pages > 0 && page > 0
                         ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page)
                         : (8ULL << 30);
    opt.state_memory_budget = avail / 4 * 3;
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(model), std::move(tokenizer), opt));
  engine->cache_ = std::make_unique<PrefixCache>(opt.prefix_cache_bytes);
  engine->thread_ = std::thread([e = engine.get()] { e->run(); });
  return engine;
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::shared_ptr<RequestHandle>> Engine::submit(Request request) {
  if (request.prompt.empty()) return invalid_argument_error("the prompt is empty");
  const int64_t n_vocab = model_->n_vocab();
  for (size_t i = 0; i < request.prompt.size(); ++i) {
    int32_t t = request.prompt[i];
    if (t < 0 || t >= n_vocab)
      return invalid_argument_error(
          str_format("prompt token %zu has id %d, outside the vocabulary (0..%lld)", i, t,
                     static_cast<long long>(n_vocab - 1)));
  }
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt >= options_.context_length)
    return out_of_range_error(str_format(
        "the prompt has %lld tokens but the context holds %lld (at least one more is needed to "
        "generate)",
        static_cast<long long>(n_prompt), static_cast<long long>(options_.context_length)));
  HEARTH_RETURN_IF_ERROR(sampling::validate(request.sampling, static_cast<int32_t>(n_vocab)));
  for (int32_t t : request.stop_tokens)
    if (t < 0 || t >= n_vocab)
      return invalid_argument_error(str_format("stop token %d is outside the vocabulary", t));

  auto handle = std::make_shared<RequestHandle>();
  handle->id_ = next_id_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) return Status(ErrorCode::kUnavailable, "the engine is shutting down");
    if (incoming_.size() + static_cast<size_t>(stats_.waiting) >= options_.max_waiting)
      return resource_exhausted_error(
          str_format("the request queue is full (%zu waiting)", options_.max_waiting));
    stats_.prompt_tokens += static_cast<uint64_t>(n_prompt);
    incoming_.emplace_back(handle, std::move(request));
  }
  wake_.notify_all();
  return handle;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void Engine::admit_waiting() {
  std::deque<std::pair<std::shared_ptr<RequestHandle>, Request>> incoming;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    incoming.swap(incoming_);
  }
  for (auto& [handle, request] : incoming) {
    auto seq = std::make_unique<Sequence>(handle, std::move(request), *tokenizer_);
    const int64_t n_prompt = static_cast<int64_t>(seq->request.prompt.size());
    int64_t room = options_.context_length - n_prompt;
    seq->max_tokens = seq->request.max_tokens < 0 ? room : std::min(seq->request.max_tokens, room);
    seq->usage.prompt_tokens = n_prompt;
    waiting_.push_back(std::move(seq));
  }
  // Cancelled while waiting: finish now.
  for (auto& seq : waiting_)
    if (seq->handle->cancelled() || seq->handle.use_count() == 1)
      finish(*seq, FinishReason::kCancelled);
  waiting_.erase(
      std::remove_if(waiting_.begin(), waiting_.end(), [](const auto& s) { return s->finished; }),
      waiting_.end());

  while (!waiting_.empty() && static_cast<int>(running_.size()) < options_.max_sequences) {
    // Reserve the state this sequence can grow to; wait while others hold it, fail when it could
    // never fit.
    Sequence& next = *waiting_.front();
    const auto& hp = model_->hparams();
    const int64_t tokens = static_cast<int64_t>(next.request.prompt.size()) + next.max_tokens;
    auto est = estimate_memory(hp, 1, 0, false, std::min(tokens, options_.context_length), 1, 0);
    const uint64_t need = est.kv_cache + est.recurrent_state;
    if (need > options_.state_memory_budget) {
      finish(
          next, FinishReason::kError,
          resource_exhausted_error(str_format(
              "the request needs %s of KV cache and recurrent state (%lld tokens) but the engine's "
              "budget is %s; lower max_tokens or the prompt",
              format_bytes(need).c_str(), static_cast<long long>(tokens),
              format_bytes(options_.state_memory_budget).c_str())));
      waiting_.pop_front();
      continue;
    }
    if (reserved_ + need > options_.state_memory_budget && !running_.empty()) break;
    next.reserved_bytes = need;
    reserved_ += need;
    auto seq = std::move(waiting_.front());
    waiting_.pop_front();
    const auto& prompt = seq->request.prompt;
    auto hit = cache_->lookup(prompt, prompt.size() - 1);
    if (hit.state) {
      seq->state = *hit.state;
      seq->prompt_done = hit.n_tokens;
      seq->usage.cached_tokens = static_cast<int64_t>(hit.n_tokens);
    } else {
      seq->state = model_->new_sequence();
    }
    if (seq->request.make_constraint) seq->constraint = seq->request.make_constraint();
    seq->sampler.add_prompt(prompt);
    seq->logits.resize(static_cast<size_t>(model_->n_vocab()));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (hit.state) {
        stats_.prefix_hits++;
        stats_.prompt_tokens_cached += hit.n_tokens;
      } else {
        stats_.prefix_misses++;
      }
    }
    running_.push_back(std::move(seq));
  }
}

void Engine::run() {
  ThreadPool pool(options_.n_threads);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return stop_ || !incoming_.empty() || !running_.empty() || !waiting_.empty();
      });
      if (stop_) break;
    }
    admit_waiting();
    if (running_.empty()) continue;

    // Cancelled or abandoned (the caller dropped its handle) sequences leave before the step.
    for (auto& seq : running_)
      if (seq->handle->cancelled() || seq->handle.use_count() == 1)
        finish(*seq, FinishReason::kCancelled);
    reap_finished();
    if (running_.empty()) continue;

    // Build the step: every decoding sequence's next token, then prefill chunks in arrival
    // order while the token budget lasts. Chunks end at checkpoint boundaries.
    struct Part {
      Sequence* seq;
      size_t count;
      bool prefill;
    };
    std::vector<Part> parts;
    std::vector<model::BatchEntry> entries;
    int64_t budget = options_.step_token_budget;
    for (auto& seq : running_) {
      if (seq->prompt_done < seq->request.prompt.size()) continue;
      parts.push_back({seq.get(), 1, false});
      --budget;
    }
    for (auto& seq : running_) {
      const size_t n_prompt = seq->request.prompt.size();
      if (seq->prompt_done >= n_prompt || budget <= 0) continue;
      size_t chunk = std::min<size_t>(n_prompt - seq->prompt_done, static_cast<size_t>(budget));
      size_t interval = static_cast<size_t>(options_.checkpoint_interval);
      size_t next_cp = (seq->prompt_done / interval + 1) * interval;
      if (next_cp < n_prompt) chunk = std::min(chunk, next_cp - seq->prompt_done);
      parts.push_back({seq.get(), chunk, true});
      budget -= static_cast<int64_t>(chunk);
    }
    for (const Part& p : parts) {
      model::BatchEntry e;
      e.state = &p.seq->state;
      if (p.prefill) {
        e.tokens =
            std::span<const int32_t>(p.seq->request.prompt.data() + p.seq->prompt_done, p.count);
        bool last = p.seq->prompt_done + p.count == p.seq->request.prompt.size();
        e.logits_mode = last ? model::LogitsMode::kLast : model::LogitsMode::kNone;
      } else {
        e.tokens = std::span<const int32_t>(&p.seq->next_token, 1);
        e.logits_mode = model::LogitsMode::kLast;
      }
      e.logits = p.seq->logits.data();
      entries.push_back(e);
    }

    Status status = model_->forward(entries, pool);
    if (!status.is_ok()) {
      LOG_ERROR("forward failed: %s", status.to_string().c_str());
      for (const Part& p : parts) finish(*p.seq, FinishReason::kError, status);
      reap_finished();
      continue;
    }

    uint64_t prefilled = 0;
    std::vector<Sequence*> to_sample;  // sequences with fresh logits, in batch order
    for (const Part& p : parts) {
      Sequence& seq = *p.seq;
      if (p.prefill) {
        seq.prompt_done += p.count;
        prefilled += p.count;
        const auto& prompt = seq.request.prompt;
        if (seq.prompt_done == prompt.size()) {
          cache_->insert(prompt, seq.state);
          to_sample.push_back(&seq);
        } else if (seq.prompt_done % static_cast<size_t>(options_.checkpoint_interval) == 0) {
          cache_->insert(std::span<const int32_t>(prompt.data(), seq.prompt_done), seq.state);
        }
      } else {
        to_sample.push_back(&seq);
      }
    }
    sample_all(to_sample, pool);
    reap_finished();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.steps++;
      stats_.prefill_tokens += prefilled;
      stats_.cache_bytes = cache_->bytes();
      stats_.cache_entries = cache_->entries();
    }
  }
  // Shutdown: everything still queued or running is cancelled.
  admit_waiting();
  for (auto& seq : running_) finish(*seq, FinishReason::kCancelled);
  for (auto& seq : waiting_) finish(*seq, FinishReason::kCancelled);
  running_.clear();
  waiting_.clear();
}

void Engine::sample_all(const std::vector<Sequence*>& seqs, ThreadPool& pool) {
  // Each sequence's sampler, constraint and logits are its own, so the vocabulary-sized passes
  // (penalties, masks, max / softmax, top-k) of different sequences run on the pool's threads;
  // the events are then emitted in batch order on this thread.
  std::vector<Event> events(seqs.size());
  std::vector<std::optional<Result<sampling::SampledToken>>> sampled(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) {
    const Sequence& seq = *seqs[i];
    events[i].kind = Event::Kind::kToken;
    // Before sampling: the sampler biases / masks the logits in place.
    if (seq.request.return_logits) events[i].logits = seq.logits;
  }
  pool.parallel_for(static_cast<int64_t>(seqs.size()), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      Sequence& seq = *seqs[static_cast<size_t>(i)];
      sampled[static_cast<size_t>(i)] = seq.sampler.sample(
          seq.logits.data(), static_cast<int32_t>(seq.logits.size()), seq.constraint.get());
    }
  });
  for (size_t i = 0; i < seqs.size(); ++i) {
    emit_sampled(*seqs[i], std::move(*sampled[i]), std::move(events[i]));
  }
}

void Engine::emit_sampled(Sequence& seq, Result<sampling::SampledToken> sampled, Event ev) {
  if (!sampled.is_ok()) {
    finish(seq, FinishReason::kError, sampled.status());
    return;
  }
  const int32_t token = sampled->token;
  seq.sampler.accept(token);
  if (seq.constraint) seq.constraint->accept(token);
  seq.generated.push_back(token);
  seq.usage.completion_tokens++;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.generated_tokens++;
  }

  ev.token = token;
  ev.logprob = sampled->logprob;
  ev.top_logprobs = std::move(sampled->top);
  const auto& stops = seq.request.stop_tokens;
  const bool is_stop_token = (!seq.request.ignore_eos && tokenizer_->is_eog(token)) ||
                             std::find(stops.begin(), stops.end(), token) != stops.end();
  if (is_stop_token) {
    seq.handle->push(std::move(ev));
    finish(seq, FinishReason::kStop);
    return;
  }
  auto out = seq.matcher.feed(seq.decoder.feed(token));
  ev.text = std::move(out.text);
  seq.handle->push(std::move(ev));
  if (out.stopped) {
    seq.stop_matched = out.matched;
    finish(seq, FinishReason::kStop);
    return;
  }
  // The next token needs a free position in the context.
  if (static_cast<int64_t>(seq.generated.size()) >= seq.max_tokens ||
      seq.state.n_past() + 1 >= options_.context_length) {
    finish(seq, FinishReason::kLength);
    return;
  }
  seq.next_token = token;
}

void Engine::finish(Sequence& seq, FinishReason reason, Status error) {
  if (seq.finished) return;
  seq.finished = true;
  Event ev;
  ev.kind = Event::Kind::kFinished;
  ev.finish = reason;
  if (reason == FinishReason::kStop || reason == FinishReason::kLength) {
    if (!seq.matcher.stopped()) {
      auto out = seq.matcher.feed(seq.decoder.flush());
      ev.text = std::move(out.text);
      if (out.stopped) {
        ev.stop_matched = out.matched;
        ev.finish = FinishReason::kStop;
      } else {
        ev.text += seq.matcher.flush();
      }
    }
  }
  if (ev.stop_matched.empty()) ev.stop_matched = seq.stop_matched;  // matched during a token event
  ev.usage = seq.usage;
  ev.error = std::move(error);
  // Checkpoint the conversation so far: the state holds prompt + every generated token but the
  // last (which was sampled, never fed). A follow-up turn that repeats the answer resumes here.
  if ((reason == FinishReason::kStop || reason == FinishReason::kLength) &&
      seq.generated.size() > 1 && seq.prompt_done == seq.request.prompt.size()) {
    std::vector<int32_t> tokens(seq.request.prompt);
    tokens.insert(tokens.end(), seq.generated.begin(), seq.generated.end() - 1);
    if (static_cast<int64_t>(tokens.size()) == seq.state.n_past())
      cache_->insert(tokens, seq.state);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.requests_finished++;
  }
  seq.handle->push(std::move(ev));
}

void Engine::reap_finished() {
  for (const auto& s : running_)
    if (s->finished) reserved_ -= s->reserved_bytes;
  running_.erase(
      std::remove_if(running_.begin(), running_.end(), [](const auto& s) { return s->finished; }),
      running_.end());
  // Live state not already counted in the prefix cache's bytes: KV chunks shared with
  // checkpoints (or between sequences resumed from one) count once, in cache_bytes when the
  // cache holds them, else here.
  size_t state_bytes = 0;
  std::unordered_set<const void*> seen;
  for (const auto& s : running_) {
    state_bytes += s->state.recurrent_bytes();
    const size_t chunk_bytes = s->state.kv_chunk_bytes();
    s->state.for_each_kv_chunk([&](const void* id) {
      if (!cache_->holds_chunk(id) && seen.insert(id).second) state_bytes += chunk_bytes;
    });
  }
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.running = static_cast<int>(running_.size());
  stats_.waiting = static_cast<int>(waiting_.size());
  stats_.state_bytes = state_bytes;
  stats_.state_reserved = reserved_;
}

}  // namespace hearth::engine
