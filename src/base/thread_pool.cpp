// ThreadPool implementation: spin-then-sleep workers, spin barrier.
#include "base/thread_pool.h"

#include "base/cpu_features.h"

#include <chrono>

namespace hearth {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// Waiting has three phases: a short busy spin (the next op usually arrives within microseconds),
// then yielding the core (when the machine is oversubscribed, a descheduled peer gets to run
// instead of us burning its time slice), then, after ~2 ms without work, sleeping on the condition
// variable so an idle server costs nothing.
constexpr int kSpinIterations = 2000;
constexpr int64_t kYieldNanos = 2'000'000;

int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = cpu_features().physical_cores;
  if (n_threads <= 0) n_threads = 1;
  n_threads_ = n_threads;
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int ith) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen;
    int spins = 0;
    int64_t yield_start = 0;
    while ((gen = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinIterations) {
        cpu_relax();
      } else if (yield_start == 0 || monotonic_ns() - yield_start < kYieldNanos) {
        if (yield_start == 0) yield_start = monotonic_ns();
        std::this_thread::yield();
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    (*task_)(ith, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(FunctionRef<void(int, int)> fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  task_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  fn(0, n_threads_);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  task_ = nullptr;
}

void ThreadPool::split(int64_t n, int ith, int nth, int64_t grain, int64_t* begin, int64_t* end) {
  if (grain < 1) grain = 1;
  int64_t blocks = (n + grain - 1) / grain;
  int64_t per = blocks / nth, extra = blocks % nth;
  int64_t b0 = ith * per + (ith < extra ? ith : extra);
  int64_t b1 = b0 + per + (ith < extra ? 1 : 0);
  *begin = b0 * grain < n ? b0 * grain : n;
  *end = b1 * grain < n ? b1 * grain : n;
}

void ThreadPool::parallel_for(int64_t n, FunctionRef<void(int64_t, int64_t)> fn, int64_t grain) {
  if (n <= 0) return;
  run([&](int ith, int nth) {
    int64_t b, e;
    split(n, ith, nth, grain, &b, &e);
    if (b < e) fn(b, e);
  });
}

void ThreadPool::barrier() {
  if (n_threads_ == 1) return;
  int sense = barrier_sense_.load(std::memory_order_acquire);
  if (barrier_count_.fetch_add(1, std::memory_order_acq_rel) == n_threads_ - 1) {
    barrier_count_.store(0, std::memory_order_relaxed);
    barrier_sense_.store(sense ^ 1, std::memory_order_release);
  } else {
    for (int spins = 0; barrier_sense_.load(std::memory_order_acquire) == sense; ++spins) {
      if (spins < kSpinIterations) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
  }
}

}  // namespace hearth
