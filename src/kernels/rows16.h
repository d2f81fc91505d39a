// The 16-row interleaved weight layout ("rows16") for Q4_K and Q6_K matrices: what it is, how a
// row-major matrix is repacked into it, and how one row is read back. Kernels that consume it
// (KernelTable::rows16_dot) put one (row, token) output in each 32-bit SIMD lane, so a weight
// unpack is shared by every token of a batch and the sub-block scales are applied once per lane
// group instead of once per row and token.
//
// A rows16 matrix is a sequence of bands of 16 consecutive rows (rows must be a multiple of 16).
// Band g starts at data + g * 16 * row_bytes(type, cols); inside a band, super-block b of all 16
// rows (one "group") starts at band + b * 16 * block_bytes(type). The band and the group have
// exactly the bytes of the row-major rows they hold, only reordered, so repacking never changes
// a matrix's size.
//
// Q4_K group (16 x 144 = 2304 bytes; r = row in band 0..15, original block fields of row r):
//   [0, 32)      d[r]     (f16, 2 bytes per row)
//   [32, 64)     dmin[r]  (f16)
//   [64, 256)    12 planes of 16 bytes: byte 64 + 16 * p + r = scales[p] (the 12-byte 6-bit
//                scale/min packing of Q4_K, unchanged)
//   [256, 2304)  qs: for c in 0..3 (64-weight chunk), i in 0..7, r, j in 0..3:
//                byte 256 + 4 * (16 * (8 * c + i) + r) + j = qs[32 * c + 4 * i + j]
//                i.e. one 64-byte vector per (c, i) whose 32-bit lane r holds 4 quant bytes of row
//                r: low nibbles = weights 64c + 4i .. +3 (sub-block 2c), high nibbles = weights
//                64c + 32 + 4i .. +3 (sub-block 2c + 1).
// Q6_K group (16 x 210 = 3360 bytes):
//   [0, 32)      d[r]     (f16)
//   [32, 288)    16 planes of 16 bytes: byte 32 + 16 * s + r = scales[s] (int8, sub-block s of 16)
//   [288, 2336)  ql: for h in 0..1 (128-weight half), p in 0..1, i in 0..7, r, j in 0..3:
//                byte 288 + 4 * (16 * (16 * h + 8 * p + i) + r) + j = ql[64 * h + 32 * p + 4 * i +
//                j] low nibbles = low 4 bits of weights 128h + 32p + 4i .. +3, high nibbles = low 4
//                bits of weights 128h + 64 + 32p + 4i .. +3
//   [2336, 3360) qh: for h in 0..1, i in 0..7, r, j in 0..3:
//                byte 2336 + 4 * (16 * (8 * h + i) + r) + j = qh[32 * h + 4 * i + j]
//                bits 2p..2p+1 = high 2 bits of weight 128h + 32p + 4i + j,
//                bits 4+2p..5+2p = high 2 bits of weight 128h + 64 + 32p + 4i + j (p = 0, 1)
//   (the 6-bit value q = low | high << 4 is the stored quant; the weight is d * scales[s] * (q -
//   32))
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace hearth::kernels {

constexpr int kRows16 = 16;  // rows per band

// Q4_K and Q6_K have a rows16 layout.
bool rows16_layout_exists(DType type);

// Whether the current kernel set has a fast rows16 product for this type and shape (rows a
// multiple of 16): the model repacks such matrices at load. False on ISAs without one (their
// rows16 products still work, through a slower unpack-to-rows path). HEARTH_REPACK=0 turns it off.
bool rows16_preferred(DType type, int64_t rows, int64_t cols);

// Repacks a row-major matrix (rows a multiple of 16, row r at src + r * src_stride) into the
// rows16 layout at dst (16 * row_bytes per band, bands consecutive). dst must not overlap src.
// Bands [band_begin, band_end) only, so callers can repack (and release the source) in pieces.
void repack_rows16(DType type, const void* src, size_t src_stride, int64_t cols, int64_t band_begin,
                   int64_t band_end, void* dst);

// Row r of a rows16 matrix (data = start of band 0) back in the row-major block layout:
// row_bytes(type, cols) bytes written to dst_row.
void unpack_rows16_row(DType type, const void* data, int64_t cols, int64_t r, void* dst_row);

}  // namespace hearth::kernels
