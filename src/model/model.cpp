// Model loading and the top-level forward pass (qwen35-architecture.md §2).
#include "model/model.h"

#include <algorithm>
#include <vector>

#include "kernels/kernels.h"
#include "model/blocks/gated_attention.h"
#include "model/blocks/gated_deltanet.h"

namespace hearth::model {

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::open(path));
  auto m = from_gguf(std::move(file));
  if (!m.is_ok()) return m.status().with_context(path);
  return m;
}

Result<std::unique_ptr<Model>> Model::from_gguf(gguf::GgufFile file) {
  return from_gguf(std::move(file), /*repack_for_kernels=*/true);
}

Result<std::unique_ptr<Model>> Model::from_gguf(gguf::GgufFile file, bool repack_for_kernels) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::make_unique<gguf::GgufFile>(std::move(file));
  HEARTH_ASSIGN_OR_RETURN(m->hp_, read_hparams(*m->file_));
  HEARTH_ASSIGN_OR_RETURN(m->w_, bind_weights(*m->file_, m->hp_));
  if (repack_for_kernels) repack_weights(*m->file_, m->w_, m->repacked_);
  return m;
}

Status Model::forward(std::span<BatchEntry> batch, ThreadPool& pool,
                      const ForwardOptions& options) const {
  const HParams& hp = hp_;
  const int64_t D = hp.n_embd, V = hp.n_vocab;
  BatchLayout layout;
  for (size_t i = 0; i < batch.size(); ++i) {
    const BatchEntry& e = batch[i];
    if (!e.state) return invalid_argument_error(str_format("batch entry %zu has no state", i));
    if (!e.state->shaped_for(hp)) {
      return invalid_argument_error(
          str_format("batch entry %zu: sequence state was made for a different model", i));
    }
    if (e.logits_mode != LogitsMode::kNone && !e.logits) {
      return invalid_argument_error(
          str_format("batch entry %zu: logits requested but no buffer", i));
    }
    for (size_t j = 0; j < i; ++j) {
      if (batch[j].state == e.state) {
        return invalid_argument_error(str_format("batch entries %zu and %zu share a state", j, i));
      }
    }
    for (int32_t t : e.tokens) {
      if (t < 0 || t >= V) {
        return invalid_argument_error(str_format("batch entry %zu: token id %d outside [0, %lld)",
                                                 i, t, static_cast<long long>(V)));
      }
    }
    if (e.tokens.empty()) continue;
    SeqSpan sp;
    sp.state = e.state;
    sp.begin = layout.n_tokens;
    sp.count = static_cast<int64_t>(e.tokens.size());
    sp.pos0 = e.state->n_past();
    layout.n_tokens += sp.count;
    layout.seqs.push_back(sp);
  }
  const int64_t N = layout.n_tokens;
  if (N == 0) return Status::ok();
  for (const SeqSpan& sp : layout.seqs) sp.state->reserve_tokens(sp.pos0 + sp.count);

  std::vector<float> h(N * D);  // [N][D] residual stream
  std::vector<float> x(N * D);  // [N][D] normalised input of the current sub-block
  std::vector<float> y(N * D);  // [N][D] sub-block output
  {
    int64_t row = 0;
    for (const BatchEntry& e : batch) {
      for (int32_t t : e.tokens) kernels::embedding_row(w_.token_embd, t, h.data() + D * row++);
    }
  }
  auto norm_rows = [&](const std::vector<float>& weight) {
    pool.parallel_for(N, [&](int64_t b, int64_t end) {
      for (int64_t t = b; t < end; ++t) {
        kernels::rms_norm(h.data() + t * D, weight.data(), x.data() + t * D, D, hp.rms_eps);
      }
    });
  };
  auto add_residual = [&]() {
    pool.parallel_for(N, [&](int64_t b, int64_t end) {
      kernels::add(h.data() + b * D, y.data() + b * D, h.data() + b * D, (end - b) * D);
    });
  };
  // h += y, then x = norm(h): one pool pass instead of two (each row's ops are unchanged).
  auto add_residual_and_norm = [&](const std::vector<float>& weight) {
    pool.parallel_for(N, [&](int64_t b, int64_t end) {
      kernels::add(h.data() + b * D, y.data() + b * D, h.data() + b * D, (end - b) * D);
      for (int64_t t = b; t < end; ++t) {
        kernels::rms_norm(h.data() + t * D, weight.data(), x.data() + t * D, D, hp.rms_eps);
      }
    });
  };
  if (!w_.layers.empty()) norm_rows(w_.layers[0].attn_norm);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const LayerWeights& lw = w_.layers[il];
    if (lw.recurrent) {
      gated_deltanet_forward(hp, lw.gdn, il, x.data(), layout, options.gdn_mode, y.data(), pool);
    } else {
      gated_attention_forward(hp, lw.attn, il, x.data(), layout, y.data(), pool);
    }
    add_residual_and_norm(lw.post_attn_norm);
    if (hp.arch == Arch::kQwen35) {
      dense_ffn_forward(hp, lw, x.data(), N, y.data(), pool);
    } else {
      moe_ffn_forward(hp, lw, x.data(), N, y.data(), pool);
    }
    if (il + 1 < hp.n_layer) {
      add_residual_and_norm(w_.layers[il + 1].attn_norm);
    } else {
      add_residual();
    }
  }
  for (const SeqSpan& sp : layout.seqs) sp.state->advance(sp.count);

  // Final norm + LM head only for the rows whose logits were asked for, all entries in one
  // matmul: the output matrix (the largest one) is read once per step, not once per sequence.
  std::vector<float*> logit_rows;  // [rows normed into x] where each row's logits go
  int64_t row = 0;
  for (const BatchEntry& e : batch) {
    const int64_t n = static_cast<int64_t>(e.tokens.size());
    if (n > 0 && e.logits_mode != LogitsMode::kNone) {
      const int64_t first = e.logits_mode == LogitsMode::kAll ? row : row + n - 1;
      const int64_t count = e.logits_mode == LogitsMode::kAll ? n : 1;
      for (int64_t t = 0; t < count; ++t) {
        const int64_t dst = static_cast<int64_t>(logit_rows.size());
        kernels::rms_norm(h.data() + (first + t) * D, w_.output_norm.data(), x.data() + dst * D, D,
                          hp.rms_eps);
        logit_rows.push_back(e.logits + t * V);
      }
    }
    row += n;
  }
  if (!logit_rows.empty()) {
    kernels::matmul_rows(w_.output, x.data(), D, static_cast<int64_t>(logit_rows.size()),
                         logit_rows.data(), pool);
  }
  return Status::ok();
}

}  // namespace hearth::model
