// The `entropy` layer score: the teacher's softmax attention entropy per layer and head on
// validation data, averaged over batches and query positions. Low entropy = sharp, retrieval-
// like attention, which a fixed-decay RNN reproduces worst; those layers stay attention
// (selection score = -mean entropy).
#pragma once

#include "halo/eval/token_batch.h"
#include "hypenet/qwen3_model.h"

#include <vector>

namespace halo::selection {

struct AttentionEntropy {
  std::vector<std::vector<double>> per_head;  // [L][Hq] mean entropy (nats)
  std::vector<double> per_layer;              // [L] mean over heads
};

// Runs the teacher on every batch with capture_attention_entropy.
AttentionEntropy teacher_attention_entropy(hypenet::Qwen3ForCausalLM& teacher,
                                           const std::vector<eval::TokenBatch>& batches);

}  // namespace halo::selection
