// quant.h's entry points: argument checks, the per-type dispatch, and the plain float types
// (F32, F16, BF16). Block types live in quant_legacy.cpp and quant_k.cpp.
#include "tensor/quant.h"

#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/float16.h"
#include "tensor/quant_internal.h"

namespace hearth {

namespace {

bool is_row_type(DType type) {
  switch (type) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ8_0:
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kQ8_K:
      return true;
    default:
      return false;
  }
}

// Rows inside a mapped GGUF need not be 2-byte aligned; memcpy keeps the loads defined.
inline uint16_t load_u16(const void* base, int64_t i) {
  uint16_t v;
  std::memcpy(&v, static_cast<const uint8_t*>(base) + 2 * i, sizeof(v));
  return v;
}
inline void store_u16(void* base, int64_t i, uint16_t v) {
  std::memcpy(static_cast<uint8_t*>(base) + 2 * i, &v, sizeof(v));
}

// Checks type support, n against the block size and the pointers; `what` names the caller.
Status check_row(const char* what, DType type, const void* a, const void* b, int64_t n) {
  const uint32_t id = static_cast<uint32_t>(type);
  const auto info = dtype_traits(id);
  if (!info) return invalid_argument_error(str_format("%s: unknown ggml type id %u", what, id));
  if (!is_row_type(type)) {
    return unsupported_error(str_format("%s: type %s is not supported", what, info->name));
  }
  if (n < 0 || n % info->block_size != 0) {
    return invalid_argument_error(str_format(
        "%s: n = %lld is not a non-negative multiple of the %s block size %lld", what,
        static_cast<long long>(n), info->name, static_cast<long long>(info->block_size)));
  }
  if (n > 0 && (a == nullptr || b == nullptr)) {
    return invalid_argument_error(str_format("%s: null buffer for %lld %s elements", what,
                                             static_cast<long long>(n), info->name));
  }
  return Status::ok();
}

}  // namespace

bool can_dequantize(DType type) {
  return is_row_type(type);
}
bool can_quantize(DType type) {
  return is_row_type(type);
}

Status dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  HEARTH_RETURN_IF_ERROR(check_row("dequantize_row", type, src, dst, n));
  if (n == 0) return Status::ok();
  using namespace quant_detail;
  const int64_t nb = n / block_size(type);
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      break;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src, i));
      break;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(src, i));
      break;
    case DType::kQ4_0:
      dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, nb);
      break;
    case DType::kQ4_1:
      dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, nb);
      break;
    case DType::kQ5_0:
      dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, nb);
      break;
    case DType::kQ5_1:
      dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, nb);
      break;
    case DType::kQ8_0:
      dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, nb);
      break;
    case DType::kQ2_K:
      dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, nb);
      break;
    case DType::kQ3_K:
      dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, nb);
      break;
    case DType::kQ4_K:
      dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, nb);
      break;
    case DType::kQ5_K:
      dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, nb);
      break;
    case DType::kQ6_K:
      dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, nb);
      break;
    case DType::kQ8_K:
      dequantize_q8_k(static_cast<const BlockQ8_K*>(src), dst, nb);
      break;
    default:
      return internal_error("dequantize_row: dispatch missing a supported type");
  }
  return Status::ok();
}

Status quantize_row(DType type, const float* src, void* dst, int64_t n) {
  HEARTH_RETURN_IF_ERROR(check_row("quantize_row", type, src, dst, n));
  if (n == 0) return Status::ok();
  using namespace quant_detail;
  const int64_t nb = n / block_size(type);
  if (traits(type).is_quantized) {
    // Scale searches on inf/NaN produce garbage levels (and float->int conversions of NaN), so
    // block types refuse them; F16/BF16 represent them and pass them through.
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(src[i])) {
        return invalid_argument_error(str_format(
            "quantize_row: element %lld is %s; %s needs "
            "finite values",
            static_cast<long long>(i), std::isnan(src[i]) ? "NaN" : "infinite", dtype_name(type)));
      }
    }
  }
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      break;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) store_u16(dst, i, fp32_to_fp16(src[i]));
      break;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) store_u16(dst, i, fp32_to_bf16(src[i]));
      break;
    case DType::kQ4_0:
      quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), nb);
      break;
    case DType::kQ4_1:
      quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), nb);
      break;
    case DType::kQ5_0:
      quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), nb);
      break;
    case DType::kQ5_1:
      quantize_q5_1(src, static_cast<BlockQ5_1*>(dst), nb);
      break;
    case DType::kQ8_0:
      quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), nb);
      break;
    case DType::kQ2_K:
      quantize_q2_k(src, static_cast<BlockQ2_K*>(dst), nb);
      break;
    case DType::kQ3_K:
      quantize_q3_k(src, static_cast<BlockQ3_K*>(dst), nb);
      break;
    case DType::kQ4_K:
      quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), nb);
      break;
    case DType::kQ5_K:
      quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), nb);
      break;
    case DType::kQ6_K:
      quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), nb);
      break;
    case DType::kQ8_K:
      quantize_q8_k(src, static_cast<BlockQ8_K*>(dst), nb);
      break;
    default:
      return internal_error("quantize_row: dispatch missing a supported type");
  }
  return Status::ok();
}

}  // namespace hearth
