// ppl-by-position: the mean next-token loss per position bucket over sequences of validation
// text, up to several times the training length: the length-extrapolation curve (where a
// teacher's RoPE breaks down past its training length, where a HypeNet keeps going). Sequences
// are windows of the filler at seeded offsets (the same for every model); the loss at position t
// is -log p(ids[t + 1] | ids[0..t]).
#pragma once

#include "halo/eval/task_model.h"

#include <cstdint>
#include <vector>

namespace halo::eval {

struct PositionLossOptions {
  int64_t length = 0;        // tokens per sequence (positions 0 .. length - 2 predict)
  int64_t sequences = 4;     // windows scored
  int64_t num_buckets = 16;  // equal-width position buckets over [0, length)
  uint64_t seed = 0;         // fixes the windows' offsets
};

struct PositionLoss {
  std::vector<int64_t> bucket_edges;  // num_buckets + 1 edges, 0 .. length
  std::vector<double> loss;           // [num_buckets]: mean loss (nats) of the bucket's positions
  std::vector<double> tokens;         // [num_buckets]: positions counted
};

// Edges 0 = e_0 < e_1 < ... < e_n = length, e_i = floor(i * length / n).
std::vector<int64_t> position_bucket_edges(int64_t length, int64_t num_buckets);

// `sequences` windows of `length` filler tokens (cyclic), the k-th starting at an offset drawn
// from (seed, k). Errors on an empty filler.
std::vector<std::vector<int64_t>> position_loss_windows(const std::vector<int64_t>& filler,
                                                        const PositionLossOptions& options);

void check_position_loss_options(const PositionLossOptions& options);

PositionLoss evaluate_position_loss(TaskModel& model, const std::vector<int64_t>& filler,
                                    const PositionLossOptions& options);

}  // namespace halo::eval
