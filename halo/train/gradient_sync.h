// GradientSync: the hook through which data parallelism plugs into the trainer and the pipeline
// runner (halo/distributed/data_parallel_sync.h implements it with process groups). Per
// optimizer step the trainer sums the step's token counts (and batch fingerprint) over ranks
// with all_reduce_sum before the first forward, runs every micro-batch's backward through
// backward(loss, reduce) with reduce on for the last micro-batch only (its gradients are summed
// over ranks bucket by bucket while backward runs; earlier micro-batches accumulate locally),
// and sums the logged loss over ranks afterwards; with ZeRO-1 (trainer.h) it broadcasts the
// parameters each rank updated. With no GradientSync (one process) none of
// this happens and the trainer calls loss.backward() itself.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace halo::train {

class GradientSync {
 public:
  virtual ~GradientSync() = default;
  // The trained parameters (leaf tensors with requires_grad, the same list in the same order on
  // every rank); every backward after this reduces them. Called once per Trainer.
  virtual void set_parameters(const std::vector<at::Tensor>& params) = 0;
  // loss.backward(). With `reduce`, the gradients of the parameters are summed over all ranks
  // during it (each bucket as soon as its gradients are ready) and afterwards every rank's .grad
  // holds the sum over ranks of its accumulated gradients; without, no communication happens
  // and the gradients accumulate in .grad (gradient-accumulation micro-steps).
  virtual void backward(const at::Tensor& loss, bool reduce) = 0;
  // The element-wise sums over all ranks of `values` (float64: token counts and fingerprints,
  // integers below 2^53, are exact).
  virtual std::vector<double> all_reduce_sum(std::vector<double> values) = 0;
  // Copies rank `root`'s values of `tensors` into every rank's (in place; the same shapes,
  // dtypes and order on every rank), coalesced: one flat buffer and one broadcast per dtype.
  // ZeRO-1 uses it to spread the parameters each rank updated, and to gather optimizer state
  // for a checkpoint. Leaf parameters may be passed (the copy does not record autograd).
  virtual void broadcast(const std::vector<at::Tensor>& tensors, int root) = 0;
  // Blocks until every rank has called it (the n-th call of each rank meets the n-th of the
  // others; `what` names the wait in errors). timeout_s > 0: fail after that many seconds,
  // naming the ranks that did not arrive, instead of after the collective timeout, for waits
  // longer than a collective may take (rank 0's quality gate); `timeout_key` names the setting
  // it came from in that error. timeout_s <= 0: the collective timeout.
  virtual void wait_for_all(const std::string& what, double timeout_s,
                            const std::string& timeout_key) = 0;
};

}  // namespace halo::train
