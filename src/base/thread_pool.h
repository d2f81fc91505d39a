// ThreadPool: persistent worker threads for per-op parallelism. Per-token work is a few
// microseconds per op, so workers spin briefly on a generation counter before sleeping, and
// the caller participates as thread 0. Not reentrant: one run() at a time per pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace hearth {

// A non-owning reference to a callable (cheaper than std::function: no allocation).
template <typename Signature>
class FunctionRef;
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT implicit
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* obj, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(obj))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(obj_, std::forward<Args>(args)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

class ThreadPool {
 public:
  // n_threads counts the calling thread; n_threads <= 0 means one per physical core.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(ith, nth) once on every thread (the caller is ith == 0) and waits for all.
  void run(FunctionRef<void(int ith, int nth)> fn);

  // Splits [0, n) into size() contiguous ranges, each a multiple of `grain` (except the last).
  void parallel_for(int64_t n, FunctionRef<void(int64_t begin, int64_t end)> fn, int64_t grain = 1);

  // Called from inside run() by all threads: returns when every thread has reached it.
  void barrier();

  // Range of [0, n) that thread ith of nth owns, in multiples of grain.
  static void split(int64_t n, int ith, int nth, int64_t grain, int64_t* begin, int64_t* end);

 private:
  void worker_loop(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const FunctionRef<void(int, int)>* task_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  // Sense-reversing barrier state.
  std::atomic<int> barrier_count_{0};
  std::atomic<int> barrier_sense_{0};
};

}  // namespace hearth
