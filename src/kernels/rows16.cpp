// rows16 repacking and row read-back (layout spec in rows16.h). Plain byte shuffles: the layout
// holds the row-major blocks' bytes, reordered, so both directions are exact.
#include "kernels/rows16.h"

#include <cstring>

#include "kernels/kernel_table.h"
#include "tensor/blocks.h"

namespace hearth::kernels {

namespace {

constexpr size_t kQ4KGroup = kRows16 * sizeof(BlockQ4_K);  // 2304
constexpr size_t kQ6KGroup = kRows16 * sizeof(BlockQ6_K);  // 3360
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ6_K) == 210);

// Byte offsets inside a group (rows16.h).
constexpr size_t kQ4KScales = 64, kQ4KQs = 256;
constexpr size_t kQ6KScales = 32, kQ6KQl = 288, kQ6KQh = 2336;

// Copies n bytes between a block field and its slot at group + offset, in one direction.
struct GroupSlotMover {
  uint8_t* group;
  bool to_group;
  void operator()(size_t group_off, void* field, size_t n) const {
    if (to_group) {
      std::memcpy(group + group_off, field, n);
    } else {
      std::memcpy(field, group + group_off, n);
    }
  }
};

// Each copy_* moves one block of row r between its row-major form and its slots in a group, in
// the direction `to_group` says, so repack and read-back share the one description of the layout.
void copy_q4k(uint8_t* group, int r, BlockQ4_K* blk, bool to_group) {
  const GroupSlotMover mv{group, to_group};
  mv(2 * r, &blk->d, 2);
  mv(32 + 2 * r, &blk->dmin, 2);
  for (int p = 0; p < kKScaleBytes; ++p) mv(kQ4KScales + 16 * p + r, &blk->scales[p], 1);
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 8; ++i) {
      mv(kQ4KQs + 4 * (16 * (8 * c + i) + r), &blk->qs[32 * c + 4 * i], 4);
    }
  }
}

void copy_q6k(uint8_t* group, int r, BlockQ6_K* blk, bool to_group) {
  const GroupSlotMover mv{group, to_group};
  mv(2 * r, &blk->d, 2);
  for (int s = 0; s < kQK_K / 16; ++s) mv(kQ6KScales + 16 * s + r, &blk->scales[s], 1);
  for (int h = 0; h < 2; ++h) {
    for (int p = 0; p < 2; ++p) {
      for (int i = 0; i < 8; ++i) {
        mv(kQ6KQl + 4 * (16 * (16 * h + 8 * p + i) + r), &blk->ql[64 * h + 32 * p + 4 * i], 4);
      }
    }
    for (int i = 0; i < 8; ++i)
      mv(kQ6KQh + 4 * (16 * (8 * h + i) + r), &blk->qh[32 * h + 4 * i], 4);
  }
}

size_t group_bytes(DType type) {
  return type == DType::kQ4_K ? kQ4KGroup : kQ6KGroup;
}

// Moves block b of row r (r in [0, 16)) of the band at `band` to/from `blk` (a row-major block).
void copy_block(DType type, uint8_t* band, int r, int64_t b, void* blk, bool to_group) {
  uint8_t* group = band + static_cast<size_t>(b) * group_bytes(type);
  if (type == DType::kQ4_K) {
    copy_q4k(group, r, static_cast<BlockQ4_K*>(blk), to_group);
  } else {
    copy_q6k(group, r, static_cast<BlockQ6_K*>(blk), to_group);
  }
}

}  // namespace

bool rows16_layout_exists(DType type) {
  return type == DType::kQ4_K || type == DType::kQ6_K;
}

void repack_rows16(DType type, const void* src, size_t src_stride, int64_t cols, int64_t band_begin,
                   int64_t band_end, void* dst) {
  const int64_t nb = cols / kQK_K;
  const size_t band_bytes = static_cast<size_t>(nb) * group_bytes(type);
  const size_t blk_bytes = group_bytes(type) / kRows16;
  alignas(8) uint8_t blk[sizeof(BlockQ6_K)];
  for (int64_t g = band_begin; g < band_end; ++g) {
    uint8_t* band = static_cast<uint8_t*>(dst) + static_cast<size_t>(g) * band_bytes;
    for (int r = 0; r < kRows16; ++r) {
      const uint8_t* row =
          static_cast<const uint8_t*>(src) + static_cast<size_t>(g * kRows16 + r) * src_stride;
      for (int64_t b = 0; b < nb; ++b) {
        std::memcpy(blk, row + static_cast<size_t>(b) * blk_bytes, blk_bytes);
        copy_block(type, band, r, b, blk, /*to_group=*/true);
      }
    }
  }
}

void unpack_rows16_row(DType type, const void* data, int64_t cols, int64_t r, void* dst_row) {
  const int64_t nb = cols / kQK_K;
  const size_t band_bytes = static_cast<size_t>(nb) * group_bytes(type);
  const size_t blk_bytes = group_bytes(type) / kRows16;
  // The layout is only read here; copy_block's write direction is the other one.
  uint8_t* band = const_cast<uint8_t*>(static_cast<const uint8_t*>(data)) +
                  static_cast<size_t>(r / kRows16) * band_bytes;
  alignas(8) uint8_t blk[sizeof(BlockQ6_K)];
  for (int64_t b = 0; b < nb; ++b) {
    copy_block(type, band, static_cast<int>(r % kRows16), b, blk, /*to_group=*/false);
    std::memcpy(static_cast<uint8_t*>(dst_row) + static_cast<size_t>(b) * blk_bytes, blk,
                blk_bytes);
  }
}

}  // namespace hearth::kernels
