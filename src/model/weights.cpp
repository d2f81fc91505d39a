// Tensor binding with shape/type validation for Qwen3.5 GGUF files (names of §8.3).
#include "model/weights.h"

#include <algorithm>
#include <map>

#include "base/thread_pool.h"
#include "kernels/rows16.h"
#include "tensor/quant.h"

namespace hearth::model {

std::string shape_string(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "]";
}

Result<const gguf::TensorInfo*> TensorBinder::find(const std::string& name,
                                                   std::vector<int64_t> expect) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (!t) return not_found_error(str_format("tensor '%s' is missing", name.c_str()));
  // Trailing 1s are insignificant ([D] and [D, 1] are the same tensor).
  bool match = true;
  for (int d = 0; d < 4; ++d) {
    int64_t want = d < static_cast<int>(expect.size()) ? expect[d] : 1;
    if (t->ne[d] != want) match = false;
  }
  if (!match) {
    std::vector<int64_t> found(t->ne, t->ne + std::max(1, t->n_dims));
    return corrupt_data_error(str_format("tensor '%s' has shape %s, expected %s", name.c_str(),
                                         shape_string(found).c_str(),
                                         shape_string(expect).c_str()));
  }
  if (!can_dequantize(t->type)) {
    return unsupported_error(
        str_format("tensor '%s' has unsupported type %s", name.c_str(), dtype_name(t->type)));
  }
  return t;
}

Result<kernels::WeightMatrix> TensorBinder::matrix(const std::string& name, int64_t cols,
                                                   int64_t rows) const {
  HEARTH_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {cols, rows}));
  if (!kernels::matmul_supported(t->type)) {
    return unsupported_error(str_format("tensor '%s': type %s is not supported for matrix products",
                                        name.c_str(), dtype_name(t->type)));
  }
  kernels::WeightMatrix w;
  w.type = t->type;
  w.rows = rows;
  w.cols = cols;
  w.data = t->data;
  return w;
}

Result<kernels::WeightMatrix> TensorBinder::table(const std::string& name, int64_t cols,
                                                  int64_t rows) const {
  HEARTH_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {cols, rows}));
  kernels::WeightMatrix w;
  w.type = t->type;
  w.rows = rows;
  w.cols = cols;
  w.data = t->data;
  return w;
}

Result<ExpertStack> TensorBinder::stack(const std::string& name, int64_t cols, int64_t rows,
                                        int64_t n) const {
  HEARTH_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {cols, rows, n}));
  if (!kernels::matmul_supported(t->type)) {
    return unsupported_error(str_format("tensor '%s': type %s is not supported for matrix products",
                                        name.c_str(), dtype_name(t->type)));
  }
  ExpertStack s;
  s.first.type = t->type;
  s.first.rows = rows;
  s.first.cols = cols;
  s.first.data = t->data;
  s.expert_stride = row_bytes(t->type, cols) * static_cast<size_t>(rows);
  return s;
}

Result<std::vector<float>> TensorBinder::dense(const std::string& name, int64_t cols,
                                               int64_t rows) const {
  HEARTH_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {cols, rows}));
  std::vector<float> out(static_cast<size_t>(cols * rows));
  const size_t stride = row_bytes(t->type, cols);
  for (int64_t r = 0; r < rows; ++r) {
    HEARTH_RETURN_IF_ERROR(
        dequantize_row(t->type, t->data + r * stride, out.data() + r * cols, cols));
  }
  return out;
}

Result<std::vector<float>> TensorBinder::vector(const std::string& name, int64_t n) const {
  return dense(name, n, 1);
}

std::string blk(int64_t i, const char* suffix) {
  return "blk." + std::to_string(i) + "." + suffix;
}

namespace {

Status bind_gdn(const TensorBinder& b, const HParams& hp, int64_t i, GdnWeights& g) {
  const int64_t D = hp.n_embd, Hv = hp.ssm_v_heads;
  HEARTH_ASSIGN_OR_RETURN(g.qkv, b.matrix(blk(i, "attn_qkv.weight"), D, hp.conv_dim()));
  HEARTH_ASSIGN_OR_RETURN(g.gate, b.matrix(blk(i, "attn_gate.weight"), D, hp.value_dim()));
  HEARTH_ASSIGN_OR_RETURN(g.beta, b.matrix(blk(i, "ssm_beta.weight"), D, Hv));
  HEARTH_ASSIGN_OR_RETURN(g.alpha, b.matrix(blk(i, "ssm_alpha.weight"), D, Hv));
  {
    HEARTH_ASSIGN_OR_RETURN(std::vector<float> conv_rows,  // [conv_dim][Kc] as stored
                            b.dense(blk(i, "ssm_conv1d.weight"), hp.conv_kernel, hp.conv_dim()));
    const int64_t C = hp.conv_dim(), Kc = hp.conv_kernel;
    g.conv.resize(conv_rows.size());
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t j = 0; j < Kc; ++j) g.conv[j * C + c] = conv_rows[c * Kc + j];
    }
  }
  HEARTH_ASSIGN_OR_RETURN(g.dt_bias, b.vector(blk(i, "ssm_dt.bias"), Hv));
  HEARTH_ASSIGN_OR_RETURN(g.a, b.vector(blk(i, "ssm_a"), Hv));
  HEARTH_ASSIGN_OR_RETURN(g.norm, b.vector(blk(i, "ssm_norm.weight"), hp.ssm_v_dim));
  HEARTH_ASSIGN_OR_RETURN(g.out, b.matrix(blk(i, "ssm_out.weight"), hp.value_dim(), D));
  return Status::ok();
}

Status bind_attention(const TensorBinder& b, const HParams& hp, int64_t i, AttentionWeights& a) {
  const int64_t D = hp.n_embd, dh = hp.head_dim;
  // A fused q|k|v projection shares its name with the GDN input projection; only call it fused
  // when its width says so (otherwise the schedule and the tensors disagree: report attn_q).
  const gguf::TensorInfo* fused = b.info(blk(i, "attn_qkv.weight"));
  if (!b.has(blk(i, "attn_q.weight")) && fused &&
      fused->ne[1] == (hp.n_head * 2 + 2 * hp.n_head_kv) * dh) {
    return unsupported_error(str_format(
        "layer %lld: fused full-attention 'attn_qkv' is not supported", static_cast<long long>(i)));
  }
  HEARTH_ASSIGN_OR_RETURN(a.q, b.matrix(blk(i, "attn_q.weight"), D, hp.n_head * 2 * dh));
  HEARTH_ASSIGN_OR_RETURN(a.k, b.matrix(blk(i, "attn_k.weight"), D, hp.n_head_kv * dh));
  HEARTH_ASSIGN_OR_RETURN(a.v, b.matrix(blk(i, "attn_v.weight"), D, hp.n_head_kv * dh));
  HEARTH_ASSIGN_OR_RETURN(a.out, b.matrix(blk(i, "attn_output.weight"), hp.n_head * dh, D));
  HEARTH_ASSIGN_OR_RETURN(a.q_norm, b.vector(blk(i, "attn_q_norm.weight"), dh));
  HEARTH_ASSIGN_OR_RETURN(a.k_norm, b.vector(blk(i, "attn_k_norm.weight"), dh));
  return Status::ok();
}

}  // namespace

Result<ModelWeights> bind_weights(const gguf::GgufFile& file, const HParams& hp) {
  TensorBinder b(file);
  ModelWeights w;
  const int64_t D = hp.n_embd;
  HEARTH_ASSIGN_OR_RETURN(w.token_embd, b.table("token_embd.weight", D, hp.n_vocab));
  HEARTH_ASSIGN_OR_RETURN(w.output_norm, b.vector("output_norm.weight", D));
  if (b.has("output.weight")) {
    HEARTH_ASSIGN_OR_RETURN(w.output, b.matrix("output.weight", D, hp.n_vocab));
  } else {
    if (!kernels::matmul_supported(w.token_embd.type)) {
      return unsupported_error(
          str_format("tied output head: token_embd type %s is not supported for matrix products",
                     dtype_name(w.token_embd.type)));
    }
    w.output = w.token_embd;
    w.tied_output = true;
  }
  w.layers.resize(hp.n_layer);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    LayerWeights& lw = w.layers[i];
    lw.recurrent = hp.is_recurrent[i];
    HEARTH_ASSIGN_OR_RETURN(lw.attn_norm, b.vector(blk(i, "attn_norm.weight"), D));
    HEARTH_ASSIGN_OR_RETURN(lw.post_attn_norm, b.vector(blk(i, "post_attention_norm.weight"), D));
    if (lw.recurrent) {
      HEARTH_RETURN_IF_ERROR(bind_gdn(b, hp, i, lw.gdn));
    } else {
      HEARTH_RETURN_IF_ERROR(bind_attention(b, hp, i, lw.attn));
    }
    if (hp.arch == Arch::kQwen35) {
      HEARTH_RETURN_IF_ERROR(bind_dense_ffn(b, hp, i, lw));
    } else {
      HEARTH_RETURN_IF_ERROR(bind_moe_ffn(b, hp, i, lw));
    }
  }
  // Blocks >= n_layer (MTP / nextn) are deliberately not bound: they may be absent or partial.
  return w;
}

size_t repack_weights(const gguf::GgufFile& file, ModelWeights& w,
                      std::vector<AlignedBuffer>& storage) {
  std::vector<kernels::WeightMatrix*> mats = {&w.output, &w.token_embd};
  for (LayerWeights& lw : w.layers) {
    for (kernels::WeightMatrix* m :
         {&lw.gdn.qkv, &lw.gdn.gate, &lw.gdn.beta, &lw.gdn.alpha, &lw.gdn.out, &lw.attn.q,
          &lw.attn.k, &lw.attn.v, &lw.attn.out, &lw.ffn.gate, &lw.ffn.up, &lw.ffn.down,
          &lw.moe.shared.gate, &lw.moe.shared.up, &lw.moe.shared.down}) {
      mats.push_back(m);
    }
  }
  // Pieces of ~8 MiB of source: each is released right after its copy is made, so resident memory
  // grows by at most a piece per thread beyond the model's size.
  struct Piece {
    DType type;
    int64_t cols;
    const uint8_t* src;  // band 0 of the source matrix
    uint8_t* dst;        // band 0 of its copy
    int64_t band_begin, band_end;
  };
  std::vector<Piece> pieces;
  std::map<const void*, const void*> moved;  // original data -> repacked copy (tied tensors)
  size_t total = 0;
  for (kernels::WeightMatrix* m : mats) {
    if (m->data == nullptr || m->layout != kernels::WeightLayout::kRowMajor) continue;
    if (auto it = moved.find(m->data); it != moved.end()) {
      m->data = it->second;
      m->layout = kernels::WeightLayout::kRows16;
      continue;
    }
    if (m->row_stride != 0 || !kernels::rows16_preferred(m->type, m->rows, m->cols)) continue;
    const size_t rb = row_bytes(m->type, m->cols);
    const size_t bytes = rb * static_cast<size_t>(m->rows);
    AlignedBuffer& buf = storage.emplace_back(bytes);
    const int64_t n_bands = m->rows / kernels::kRows16;
    const int64_t per_piece = std::max<int64_t>(1, (int64_t{8} << 20) / (rb * kernels::kRows16));
    for (int64_t g = 0; g < n_bands; g += per_piece) {
      pieces.push_back({m->type, m->cols, static_cast<const uint8_t*>(m->data), buf.as<uint8_t>(),
                        g, std::min(n_bands, g + per_piece)});
    }
    moved[m->data] = buf.as<uint8_t>();
    m->data = buf.as<uint8_t>();
    m->layout = kernels::WeightLayout::kRows16;
    total += bytes;
  }
  if (pieces.empty()) return 0;
  // A byte shuffle bound by page faults and memory: one thread per core (~1.2 GB/s per thread).
  ThreadPool pool(0);
  pool.parallel_for(static_cast<int64_t>(pieces.size()), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const Piece& p = pieces[static_cast<size_t>(i)];
      const size_t rb = row_bytes(p.type, p.cols);
      kernels::repack_rows16(p.type, p.src, rb, p.cols, p.band_begin, p.band_end, p.dst);
      file.release_pages(p.src + static_cast<size_t>(p.band_begin) * kernels::kRows16 * rb,
                         static_cast<size_t>(p.band_end - p.band_begin) * kernels::kRows16 * rb);
    }
  });
  return total;
}

}  // namespace hearth::model
