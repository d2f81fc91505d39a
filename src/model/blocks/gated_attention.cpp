// Gated full attention (qwen35-architecture.md §5).
#include "model/blocks/gated_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/aligned_buffer.h"
#include "kernels/kernels.h"
#include "tensor/float16.h"
#include "tensor/quant.h"

namespace hearth::model {

void gated_attention_forward(const HParams& hp, const AttentionWeights& w, int64_t layer,
                             const float* x, const BatchLayout& batch, float* out,
                             ThreadPool& pool) {
  const int64_t N = batch.n_tokens, D = hp.n_embd;
  const int64_t Hq = hp.n_head, Hkv = hp.n_head_kv, dh = hp.head_dim;
  const int64_t group = Hq / Hkv;
  const int64_t q_width = Hq * 2 * dh, kv_width = Hkv * dh;
  FloatScratch qg(N * q_width);  // [N][Hq][query dh | gate dh]
  FloatScratch k(N * kv_width);  // [N][Hkv][dh]
  FloatScratch v(N * kv_width);  // [N][Hkv][dh]
  FloatScratch o(N * Hq * dh);   // [N][Hq][dh] gated attention output
  const kernels::MatmulOutput proj[] = {
      {&w.q, qg.data(), q_width}, {&w.k, k.data(), kv_width}, {&w.v, v.data(), kv_width}};
  kernels::matmul_shared_input(proj, x, D, N, pool);

  // Norms, RoPE, and the cache append (token t of a span sits at position pos0 + t).
  for (const SeqSpan& sp : batch.seqs) {
    pool.parallel_for(sp.count, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t row = sp.begin + t, pos = sp.pos0 + t;
        for (int64_t h = 0; h < Hq; ++h) {
          float* q = qg.data() + row * q_width + h * 2 * dh;
          kernels::rms_norm(q, w.q_norm.data(), q, dh, hp.rms_eps);
          kernels::rope_neox(q, 1, dh, hp.rope_dims, pos, hp.rope_theta);
        }
        float* kr = k.data() + row * kv_width;
        const float* vr = v.data() + row * kv_width;
        for (int64_t h = 0; h < Hkv; ++h) {
          kernels::rms_norm(kr + h * dh, w.k_norm.data(), kr + h * dh, dh, hp.rms_eps);
        }
        kernels::rope_neox(kr, Hkv, dh, hp.rope_dims, pos, hp.rope_theta);
        uint8_t* kc = sp.state->k_at(layer, pos);
        uint8_t* vc = sp.state->v_at(layer, pos);
        if (sp.state->kv_type() == KvType::kF16) {
          auto* k16 = reinterpret_cast<uint16_t*>(kc);
          auto* v16 = reinterpret_cast<uint16_t*>(vc);
          for (int64_t i = 0; i < kv_width; ++i) {
            k16[i] = fp32_to_fp16(kr[i]);
            v16[i] = fp32_to_fp16(vr[i]);
          }
        } else {
          // Q8_0 of a whole row = per-head Q8_0 (dh is a multiple of the block size).
          (void)quantize_row(DType::kQ8_0, kr, kc, kv_width);
          (void)quantize_row(DType::kQ8_0, vr, vc, kv_width);
        }
      }
    });
  }

  // Work items: (sequence, kv head, block of query tokens). Each streams the cache once for
  // all `group` query heads of its kv head and all tokens in the block.
  struct Item {
    const SeqSpan* sp;
    int64_t kv_head, t0, t1;
  };
  std::vector<Item> items;
  for (const SeqSpan& sp : batch.seqs) {
    for (int64_t t0 = 0; t0 < sp.count; t0 += kAttnQueryBlock) {
      for (int64_t j = 0; j < Hkv; ++j) {
        items.push_back({&sp, j, t0, std::min(sp.count, t0 + kAttnQueryBlock)});
      }
    }
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  pool.parallel_for(static_cast<int64_t>(items.size()), [&](int64_t ib, int64_t ie) {
    std::vector<float> kt(kAttnKvTile * dh), vt(kAttnKvTile * dh);  // [tile][dh] f32 tile
    const int64_t max_q = kAttnQueryBlock * group;
    std::vector<float> m(max_q), l(max_q);  // [query] running max and denominator
    std::vector<float> acc(max_q * dh);     // [query][dh] running numerator
    std::vector<float> s(kAttnKvTile);      // [tile] scores
    for (int64_t it = ib; it < ie; ++it) {
      const Item& item = items[it];
      const SeqSpan& sp = *item.sp;
      const int64_t nq = (item.t1 - item.t0) * group;
      std::fill(m.begin(), m.begin() + nq, -std::numeric_limits<float>::infinity());
      std::fill(l.begin(), l.begin() + nq, 0.0f);
      std::fill(acc.begin(), acc.begin() + nq * dh, 0.0f);
      const int64_t last_pos = sp.pos0 + item.t1 - 1;
      const bool f16_cache = sp.state->kv_type() == KvType::kF16;
      for (int64_t p0 = 0; p0 <= last_pos; p0 += kAttnKvTile) {
        const int64_t np = std::min(kAttnKvTile, last_pos + 1 - p0);
        const size_t head_off = static_cast<size_t>(item.kv_head) * sp.state->kv_head_bytes();
        for (int64_t p = 0; p < np; ++p) {
          const uint8_t* kc = sp.state->k_at(layer, p0 + p) + head_off;
          const uint8_t* vc = sp.state->v_at(layer, p0 + p) + head_off;
          if (f16_cache) {
            const auto* k16 = reinterpret_cast<const uint16_t*>(kc);
            const auto* v16 = reinterpret_cast<const uint16_t*>(vc);
            kernels::fp16_to_fp32_row(k16, kt.data() + p * dh, dh);
            kernels::fp16_to_fp32_row(v16, vt.data() + p * dh, dh);
          } else {
            (void)dequantize_row(DType::kQ8_0, kc, kt.data() + p * dh, dh);
            (void)dequantize_row(DType::kQ8_0, vc, vt.data() + p * dh, dh);
          }
        }
        for (int64_t qi = 0; qi < nq; ++qi) {
          const int64_t t = item.t0 + qi / group;
          const int64_t h = item.kv_head * group + qi % group;
          const int64_t pos = sp.pos0 + t;
          const int64_t n_vis = std::min(np, pos + 1 - p0);  // causal limit inside the tile
          if (n_vis <= 0) continue;
          const float* q = qg.data() + (sp.begin + t) * q_width + h * 2 * dh;
          float tile_max = -std::numeric_limits<float>::infinity();
          for (int64_t p = 0; p < n_vis; ++p) {
            s[p] = kernels::dot(q, kt.data() + p * dh, dh) * scale;
            tile_max = std::max(tile_max, s[p]);
          }
          const float new_max = std::max(m[qi], tile_max);
          const float correction = std::exp(m[qi] - new_max);  // exp(-inf) = 0 on the first tile
          float* a = acc.data() + qi * dh;
          kernels::scale(a, correction, dh);
          float sum = 0.0f;
          for (int64_t p = 0; p < n_vis; ++p) {
            const float e = std::exp(s[p] - new_max);
            sum += e;
            kernels::axpy(e, vt.data() + p * dh, a, dh);
          }
          l[qi] = l[qi] * correction + sum;
          m[qi] = new_max;
        }
      }
      std::vector<float> gate(dh);
      for (int64_t qi = 0; qi < nq; ++qi) {
        const int64_t t = item.t0 + qi / group;
        const int64_t h = item.kv_head * group + qi % group;
        const int64_t row = sp.begin + t;
        float* dst = o.data() + row * Hq * dh + h * dh;
        const float inv = 1.0f / l[qi];
        const float* a = acc.data() + qi * dh;
        kernels::sigmoid(qg.data() + row * q_width + h * 2 * dh + dh, gate.data(), dh);
        for (int64_t d = 0; d < dh; ++d) dst[d] = a[d] * inv * gate[d];
      }
    }
  });
  kernels::matmul(w.out, o.data(), Hq * dh, N, out, D, pool);
}

}  // namespace hearth::model
