// AlignedBuffer: an owning, 64-byte aligned, uninitialised byte buffer for SIMD-friendly data.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace hearth {

constexpr size_t kCacheLine = 64;

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes) { resize(bytes); }

  // Discards the old contents. Throws std::bad_alloc on failure, like std::vector.
  void resize(size_t bytes) {
    if (bytes == size_) return;
    data_.reset();
    size_ = 0;
    if (bytes == 0) return;
    size_t rounded = (bytes + kCacheLine - 1) / kCacheLine * kCacheLine;
    void* p = std::aligned_alloc(kCacheLine, rounded);
    if (!p) throw std::bad_alloc();
    data_.reset(static_cast<std::byte*>(p));
    size_ = bytes;
  }

  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(data_.get());
  }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data_.get());
  }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t size_ = 0;
};

// Per-call float scratch that the caller fully writes before reading: like std::vector<float>(n)
// without the zero fill (at decode sizes the fills of a step's activation buffers were ~2 % of
// it, on the engine thread while the pool waited). Contents start undefined.
class FloatScratch {
 public:
  explicit FloatScratch(size_t n) : buf_(n * sizeof(float)), n_(n) {}
  float* data() { return buf_.as<float>(); }
  const float* data() const { return buf_.as<float>(); }
  size_t size() const { return n_; }
  float& operator[](size_t i) { return data()[i]; }
  const float& operator[](size_t i) const { return data()[i]; }

 private:
  AlignedBuffer buf_;
  size_t n_;
};

}  // namespace hearth
