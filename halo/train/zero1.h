// ZeRO stage 1 (optimizer-state sharding) for the Trainer, opt-in with `dist.zero1: true`.
// The trained parameters (the TrainTask's fixed-order list) are cut into world_size contiguous
// ranges balanced by element count; rank r's AdamW holds state for range r only and updates only
// those parameters. Gradients stay fully all-reduced and clipping sees the full gradients, so the
// per-parameter math is that of the unsharded optimizer; after each step every range is
// broadcast from its owner (one coalesced buffer per owner and dtype). Checkpoints keep the
// unsharded format (optimizer.pt of one AdamW over all parameters): at save time the owners
// broadcast each parameter's state to rank 0, which fills a temporary full optimizer; at resume
// every rank loads the full optimizer and keeps its own range's state. So a run can resume with
// or without ZeRO-1 and on any world size.
#pragma once

#include "halo/config/train_sections.h"
#include "halo/train/gradient_sync.h"

#include <torch/optim/adamw.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace halo::train {

// Parameters [begin, end) of the trained list.
struct ParamRange {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
  bool contains(size_t i) const { return i >= begin && i < end; }
};

// world_size contiguous ranges covering numels.size() parameters once, in order; range r ends at
// the parameter boundary nearest to (r + 1) / world_size of the total element count (a range
// may be empty when there are fewer parameters than ranks, or one parameter dominates).
std::vector<ParamRange> partition_by_numel(const std::vector<int64_t>& numels, int world_size);

// The optimizer of one rank's range: make_adamw over params[range] (null for an empty range).
std::unique_ptr<torch::optim::AdamW> make_shard_adamw(
    const std::vector<std::pair<std::string, at::Tensor>>& params, ParamRange range,
    const config::OptimizerConfig& optimizer);

// Every range broadcast from its owner (rank r owns ranges[r]): after each rank's step.
void broadcast_from_owners(GradientSync& sync, const std::vector<at::Tensor>& params,
                           const std::vector<ParamRange>& ranges);

// Collective (every rank calls it): the AdamW state (exp_avg, exp_avg_sq, step) of every
// parameter, each sent from its owner's `shard` (null for an empty range), is written into
// `full` on rank 0 (an AdamW over all of `params`, e.g. make_adamw; null on the other ranks).
// Parameters without state on their owner (no step yet) get none. Also copies the shard's
// learning rate into every group of `full`.
void gather_adamw_state(GradientSync& sync, int rank, const std::vector<at::Tensor>& params,
                        const std::vector<ParamRange>& ranges, torch::optim::AdamW* shard,
                        torch::optim::AdamW* full);

// Moves the state of the parameters in `own` from `full` (loaded from a checkpoint) into
// `shard`; local, no communication.
void keep_own_state(torch::optim::AdamW& full, torch::optim::AdamW& shard,
                    const std::vector<at::Tensor>& params, ParamRange own);

}  // namespace halo::train
