// Softmax attention of one cache step (hybrid_cache.h): the step's keys and values are written
// into the layer's KV cache, then every query attends to its row's cached keys up to and
// including its own position (the causal alignment of a chunk at an offset). Never builds a
// T x T score tensor for the whole context: at most one segment's n queries against the keys of
// its row (n x context), in chunks of the prefill size the engine chooses.
#pragma once

#include "hypenet/hybrid_cache.h"

namespace halo::hypenet {

// q: [B, T, Hq, d], k, v: [B, T, Hkv, d] in the step's layout (uniform: B = N segments of T
// tokens; packed: B = 1, T = sum of the lengths). Returns o [B, T, Hq, d]. `scale` is the logit
// scale (head_dim^-0.5); `query_scale` (float32, shaped like step.positions, or undefined) a
// per-token factor on the logits (HyPE).
//
// A decode step (one token per row, uniform layout) runs ops::decode_attention, which reads the
// rows' lengths on the device (positions + 1), so nothing in it depends on host values that
// change from token to token: the step can be captured once in a CUDA graph and replayed
// (halo/inference/decode_graph.h). Prefill chunks run scaled_dot_product_attention.
at::Tensor cached_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            KvCache& cache, const CacheStep& step, double scale,
                            const at::Tensor& query_scale = {});

}  // namespace halo::hypenet
