// Trainer: the training loop every training stage shares. Built in a fixed order: the stage's
// TrainTask (model, trainable parameters, loss), the optimizer (AdamW, decay groups), the data
// loader (PackedLoader), the GradientSync (data parallelism) told the trained parameters, the
// checkpoint store; then resume from the newest complete checkpoint of this stage (refusing one
// written by a different config; any world size may resume it, the loader cursor is global),
// and loop: step, log, maybe validate, maybe checkpoint, stop cleanly on SIGINT / SIGTERM.
//
// One optimizer step (train_step) = grad_accum micro-batches, each its own loader batch of
// batch_size sequences summed over ranks. First the step's micro-batches are read and their
// counted tokens summed over micro-batches and ranks (one small all-reduce, with the batch
// fingerprint): the global count C. Each micro-batch then backpropagates its token-sum of the
// loss divided by C, so the accumulated gradient, summed over ranks, is the gradient of the
// global token mean; the last micro-batch's backward sums the gradients over ranks bucket by
// bucket while it runs (GradientSync::backward with reduce on), the others accumulate locally.
// Then global-norm clipping, the scheduled learning rate, AdamW. The logged loss is the global
// token-weighted mean (the per-rank sums over C, summed over ranks). On CUDA with precision
// bfloat16 the forward runs under autocast (bfloat16 compute) while parameters and optimizer
// state stay float32 (master weights). With precision bfloat16-pure the task holds the trained
// parameters in bfloat16 (the trainer checks it), so gradients and the AdamW moments, which
// take their parameter's dtype, are bfloat16 too, and nothing runs under autocast; checkpoints
// keep them in bfloat16, so a resume restores both bit for bit. With dist.zero1 each rank's AdamW
// holds and updates only its own share of the parameters, which are then broadcast from their
// owners (zero1.h); checkpoints keep the unsharded format.
#pragma once

#include "data/packed_loader.h"
#include "halo/config/stage_config.h"
#include "halo/train/gradient_sync.h"
#include "halo/train/zero1.h"

#include <torch/optim/adamw.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace halo::train {

// What a training stage plugs into the Trainer.
class TrainTask {
 public:
  virtual ~TrainTask() = default;
  // Named parameters the optimizer updates (2-D ones get weight decay), in a fixed order.
  virtual std::vector<std::pair<std::string, at::Tensor>> trainable_parameters() = 0;
  // The number of tokens of `batch` whose loss counts, known before any forward (the trainer
  // sums it over the step's micro-batches and all ranks into the loss normalizer).
  virtual int64_t counted_tokens(const data::Batch& batch) = 0;
  // The loss summed over the counted tokens of `batch`, divided by `normalizer`: a float32
  // scalar with grad. The trainer passes the global count of counted tokens of the step (all
  // micro-batches, all ranks), so the gradients add up to those of the global token mean;
  // validation passes 1 (the plain sum).
  virtual at::Tensor micro_batch_loss(const data::Batch& batch, double normalizer) = 0;
  // The trained model as a Hugging Face folder, and back into the live model.
  virtual void save_model(const std::filesystem::path& dir) = 0;
  virtual void load_model(const std::filesystem::path& dir) = 0;
  // Train / eval mode of the trained modules (validation runs in eval mode).
  virtual void set_training(bool training) = 0;
};

struct TrainerSetup {
  config::StageConfig stage;  // steps, batch, accumulation, optimizer, schedule, ...
  std::string config_hash;    // PipelineConfig::stage_hash of this stage (written)
  // PipelineConfig::earlier_stage_hashes: checkpoints hashed under them are resumed from too.
  std::vector<std::string> earlier_config_hashes;
  nlohmann::json resolved_config;   // stored in every checkpoint
  std::filesystem::path stage_dir;  // RUN_DIR/<stage>/: checkpoints/, metrics.jsonl
  std::filesystem::path manifest;   // prepared data
  uint64_t data_seed = 0;           // document shuffle seed
  int prefetch = 2;
  int rank = 0, world_size = 1;
  GradientSync* sync = nullptr;  // null: one process
  // dist.zero1: shard the AdamW state over the ranks (zero1.h); only with a sync and
  // world_size > 1, otherwise ignored.
  bool zero1 = false;
  c10::Device device = c10::kCPU;
  bool handle_signals = true;  // install SIGINT / SIGTERM handlers while training
};

struct TrainResult {
  int64_t step = 0;          // optimizer steps done
  bool interrupted = false;  // stopped by a signal (a checkpoint of `step` was written)
  bool resumed = false;      // started from a checkpoint
  double last_loss = NAN;
  double val_loss = NAN;  // validation loss at the end (NAN when interrupted)
  double tokens_per_second = 0;
  std::filesystem::path checkpoint;  // newest complete checkpoint (its model/ is the output)
};

class Trainer {
 public:
  Trainer(TrainTask& task, TrainerSetup setup);
  TrainResult train();
  // One optimizer step at step index `step` (0-based; it sets the shape and learning rate of
  // that step) on the loader's next batches: the loss (global token-weighted mean) and, in
  // *grad_norm, the gradient norm before clipping. Every rank calls it together. train() calls
  // it; `halo-distill bench stage2` times it.
  double train_step(int64_t step, double* grad_norm);
  // The fingerprint of the global batch of the last train_step (train/batch_fingerprint.h).
  int64_t last_batch_fingerprint() const { return last_batch_fingerprint_; }
  // This rank's optimizer: with ZeRO-1 over its own range of the trained parameters only (null
  // when that range is empty).
  const torch::optim::AdamW* optimizer() const { return optimizer_.get(); }
  // The trained parameters, in the TrainTask's order.
  const std::vector<at::Tensor>& parameters() const { return param_tensors_; }
  // ZeRO-1: range r of parameters() is owned by rank r; empty when ZeRO-1 is off.
  const std::vector<ParamRange>& zero1_ranges() const { return zero1_ranges_; }

 private:
  void save_checkpoint(int64_t step);
  int64_t maybe_resume();

  TrainTask& task_;
  TrainerSetup s_;
  std::vector<std::pair<std::string, at::Tensor>> params_;
  std::vector<at::Tensor> param_tensors_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::vector<ParamRange> zero1_ranges_;
  std::unique_ptr<data::PackedLoader> loader_;
  std::pair<int64_t, int64_t> shape_{0, 0};
  int64_t last_batch_fingerprint_ = 0;
};

// Token-weighted mean loss of `task` over the first `batches` batches of the validation split
// (unshuffled, so every call sees the same tokens), without gradients; the sums and counts of
// every rank through `sync` when given (then every rank returns the same value).
double validation_loss(TrainTask& task, const std::filesystem::path& manifest, int64_t seq_len,
                       int64_t batch_size, int64_t batches, int rank = 0, int world_size = 1,
                       GradientSync* sync = nullptr);

}  // namespace halo::train
