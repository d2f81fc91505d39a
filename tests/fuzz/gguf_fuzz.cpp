// libFuzzer target: GgufFile::from_memory must reject or accept any byte string without crashing,
// leaking or reading out of bounds; whatever it accepts must be self-consistent.
//
// Build and run (clang, separate build dir; HEARTH_FUZZ instruments hearth_gguf with ASan+UBSan):
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
//         -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DHEARTH_FUZZ=ON \
//         -DHEARTH_BUILD_BENCH=OFF
//   cmake --build build-fuzz -j2 --target gguf_fuzz
//   mkdir -p /tmp/gguf_corpus && cp tests/data/gguf_bad/*.gguf /tmp/gguf_corpus/
//   build-fuzz/bin/gguf_fuzz /tmp/gguf_corpus -max_len=4096 -rss_limit_mb=2048 -max_total_time=300
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "gguf/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = hearth::gguf::GgufFile::from_memory(data, size);
  if (!file.is_ok()) {
    if (file.status().message().empty()) std::abort();
    return 0;
  }
  for (const auto& t : file->tensors()) {
    if (t.data < data || t.n_bytes > size || t.data + t.n_bytes > data + size) std::abort();
    if (t.offset % file->alignment() != 0) std::abort();
  }
  for (const auto& [key, value] : file->metadata()) {
    (void)value.to_display_string();
    (void)file->get_string(key);
    (void)file->get_int_array(key);
  }
  return 0;
}
