// Tests for base: Status/Result, thread pool split/run/barrier, mapped files, CPU features.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <numeric>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/cpu_features.h"
#include "base/mapped_file.h"
#include "base/status.h"
#include "base/thread_pool.h"

namespace hearth {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument_error(str_format("value %d is not positive", v));
  return v * 2;
}

Status use_parse(int v, int* out) {
  HEARTH_ASSIGN_OR_RETURN(int doubled, parse_positive(v));
  *out = doubled;
  return Status::ok();
}

TEST(Status, ResultCarriesValueOrError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, 6);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "value -1 is not positive");
  EXPECT_EQ(bad.status().to_string(), "invalid argument: value -1 is not positive");
}

TEST(Status, MacrosPropagate) {
  int out = 0;
  EXPECT_TRUE(use_parse(5, &out).is_ok());
  EXPECT_EQ(out, 10);
  Status s = use_parse(0, &out);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.with_context("loading x").message(), "loading x: value 0 is not positive");
}

TEST(Status, ResultFromOkStatusIsAnError) {
  Result<int> r{Status::ok()};
  EXPECT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInternal);
}

TEST(Status, LongFormat) {
  std::string big(1000, 'x');
  EXPECT_EQ(str_format("%s!", big.c_str()).size(), 1001u);
}

TEST(ThreadPool, SplitCoversRangeExactlyOnce) {
  for (int64_t n : {0, 1, 5, 63, 64, 65, 1000}) {
    for (int nth : {1, 2, 3, 7}) {
      for (int64_t grain : {1, 4, 32}) {
        std::vector<int> seen(static_cast<size_t>(n), 0);
        for (int ith = 0; ith < nth; ++ith) {
          int64_t b, e;
          ThreadPool::split(n, ith, nth, grain, &b, &e);
          ASSERT_LE(b, e);
          if (b < e && e < n) EXPECT_EQ((e - b) % grain, 0);
          for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)]++;
        }
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)], 1) << n << " " << nth;
      }
    }
  }
}

TEST(ThreadPool, RunManyTimesAndParallelFor) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    std::atomic<int64_t> total{0};
    for (int iter = 0; iter < 2000; ++iter) {
      pool.run([&](int ith, int nth) {
        EXPECT_EQ(nth, threads);
        total.fetch_add(ith + 1);
      });
    }
    EXPECT_EQ(total.load(), 2000LL * threads * (threads + 1) / 2);
    std::vector<int> data(10007, 0);
    pool.parallel_for(static_cast<int64_t>(data.size()), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) data[static_cast<size_t>(i)] += 1;
    });
    EXPECT_EQ(std::accumulate(data.begin(), data.end(), 0), 10007);
  }
}

TEST(ThreadPool, BarrierOrdersPhases) {
  ThreadPool pool(3);
  std::vector<int> phase1(3, 0);
  std::atomic<int> bad{0};
  for (int iter = 0; iter < 200; ++iter) {
    pool.run([&](int ith, int nth) {
      phase1[static_cast<size_t>(ith)] = iter;
      pool.barrier();
      for (int j = 0; j < nth; ++j)
        if (phase1[static_cast<size_t>(j)] != iter) bad++;
      pool.barrier();
    });
  }
  EXPECT_EQ(bad.load(), 0);
}

TEST(MappedFile, MapsAndReportsMissing) {
  char path[] = "/tmp/hearth_base_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_TRUE(write_file_atomic(path, "hello", 5).is_ok());
  auto f = MappedFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_EQ(f->size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), 5), "hello");
  auto content = read_file(path);
  ASSERT_TRUE(content.is_ok());
  EXPECT_EQ(*content, "hello");
  unlink(path);
  auto missing = MappedFile::open("/nonexistent/hearth/file");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/hearth/file"), std::string::npos);
}

TEST(AlignedBuffer, IsAligned) {
  AlignedBuffer b(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kCacheLine, 0u);
  EXPECT_EQ(b.size(), 1000u);
}

TEST(CpuFeatures, ConsistentImplications) {
  const auto& f = cpu_features();
  EXPECT_GE(f.logical_cpus, 1);
  if (f.avx2) { EXPECT_TRUE(f.avx); }
  if (f.avx512vnni) { EXPECT_TRUE(f.avx512f); }
  if (f.avx512bw) { EXPECT_TRUE(f.avx512f); }
}

}  // namespace
}  // namespace hearth
