// Trainer: resume, the step loop (global token-mean loss, overlapped gradient sums), checkpoints,
// validation, signals.
#include "halo/train/trainer.h"

#include "common/error.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "halo/checkpoint/training_state.h"
#include "halo/config/config_diff.h"
#include "halo/train/adamw_groups.h"
#include "halo/train/batch_fingerprint.h"
#include "halo/train/grad_clip.h"
#include "halo/train/lr_schedule.h"
#include "halo/train/metrics_log.h"
#include "halo/train/progress_bar.h"
#include "halo/train/stop_signal.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

namespace halo::train {

namespace fs = std::filesystem;

namespace {

// bfloat16 compute with float32 parameters on CUDA for the scope of one forward/backward.
class AutocastScope {
 public:
  explicit AutocastScope(bool on) : on_(on) {
    if (!on_) return;
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCUDA, false);
  }

 private:
  bool on_;
};

// Installs the stop handlers for the lifetime of a training run.
class SignalScope {
 public:
  explicit SignalScope(bool on) : on_(on) {
    if (on_) install_stop_handlers();
  }
  ~SignalScope() {
    if (on_) uninstall_stop_handlers();
  }

 private:
  bool on_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The keys of stage `stage`'s hash that changed since `recorded` (a checkpoint's resolved
// config) in `now`, as config::describe_stage_config_changes words them.
std::string changed_keys(const nlohmann::json& recorded, const nlohmann::json& now,
                         const std::string& stage) {
  if (!now.is_object() || !now.contains("stages") || !now["stages"].is_array()) return "";
  for (size_t i = 0; i < now["stages"].size(); ++i) {
    if (now["stages"][i].value("name", "") == stage) {
      return config::describe_stage_config_changes(recorded, now, i);
    }
  }
  return "";
}

// The AdamW moments read from checkpoint `dir` must have their parameters' dtype (bfloat16 under
// precision bfloat16-pure, float32 otherwise). The stage hash covers the precision, so this
// catches an optimizer.pt from elsewhere, which AdamW would otherwise mix in silently.
void check_moment_dtypes(const torch::optim::AdamW& optimizer, const fs::path& dir) {
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      auto it = optimizer.state().find(p.unsafeGetTensorImpl());
      if (it == optimizer.state().end()) continue;
      const auto& st = static_cast<const torch::optim::AdamWParamState&>(*it->second);
      HALO_CHECK(st.exp_avg().scalar_type() == p.scalar_type() &&
                     st.exp_avg_sq().scalar_type() == p.scalar_type(),
                 (dir / "optimizer.pt").string(), ": AdamW moments in ", st.exp_avg().scalar_type(),
                 " for a ", p.scalar_type(), " parameter of shape ", p.sizes(),
                 "; they must have the parameter's dtype");
    }
  }
}

}  // namespace

Trainer::Trainer(TrainTask& task, TrainerSetup setup) : task_(task), s_(std::move(setup)) {
  HALO_CHECK(s_.stage.is_training(), "stage ", s_.stage.name, " is not a training stage");
  params_ = task_.trainable_parameters();
  const bool pure_bf16 = s_.stage.precision == config::Precision::kBFloat16Pure;
  for (const auto& [name, p] : params_) {
    HALO_CHECK(p.requires_grad(), "trainable parameter ", name, " does not require grad");
    // AdamW creates each moment like its parameter: bfloat16 parameters give bfloat16 state.
    HALO_CHECK(!pure_bf16 || p.scalar_type() == at::kBFloat16, "stage ", s_.stage.name,
               ": precision bfloat16-pure trains bfloat16 parameters, but ", name, " is ",
               p.scalar_type());
    param_tensors_.push_back(p);
  }
  if (s_.zero1 && s_.sync && s_.world_size > 1) {
    std::vector<int64_t> numels;
    for (const auto& p : param_tensors_) numels.push_back(p.numel());
    zero1_ranges_ = partition_by_numel(numels, s_.world_size);
    const ParamRange own = zero1_ranges_.at(static_cast<size_t>(s_.rank));
    optimizer_ = make_shard_adamw(params_, own, s_.stage.optimizer);
    int64_t own_numel = 0, total_numel = 0;
    for (size_t i = 0; i < numels.size(); ++i) {
      total_numel += numels[i];
      if (own.contains(i)) own_numel += numels[i];
    }
    std::fprintf(stderr,
                 "[%s] zero1: rank %d holds the optimizer state of parameters %zu..%zu of %zu "
                 "(%lld of %lld elements)\n",
                 s_.stage.name.c_str(), s_.rank, own.begin, own.end, numels.size(),
                 static_cast<long long>(own_numel), static_cast<long long>(total_numel));
  } else {
    optimizer_ = make_adamw(params_, s_.stage.optimizer);
  }
  shape_ = s_.stage.shape_at(0);
  loader_ = std::make_unique<data::PackedLoader>(data::training_loader_options(
      s_.manifest, shape_.first, shape_.second, s_.rank, s_.world_size, s_.data_seed, s_.prefetch));
  if (s_.sync) s_.sync->set_parameters(param_tensors_);
}

int64_t Trainer::maybe_resume() {
  checkpoint::CheckpointStore store(s_.stage_dir / "checkpoints", s_.stage.checkpoint.keep_last);
  auto latest = store.latest();
  if (!latest) return 0;
  auto meta = checkpoint::read_checkpoint_meta(*latest);
  const auto& earlier = s_.earlier_config_hashes;
  HALO_CHECK(meta.config_hash == s_.config_hash ||
                 std::find(earlier.begin(), earlier.end(), meta.config_hash) != earlier.end(),
             latest->string(), " was written by a different configuration (config hash ",
             meta.config_hash, ", this pipeline's stage \"", s_.stage.name, "\" has ",
             s_.config_hash, "); refusing to resume from it.",
             changed_keys(meta.config, s_.resolved_config, s_.stage.name),
             " HINT: restore the original config, use a new run.out_dir, or delete ",
             s_.stage_dir.string(), " to start this stage over.");
  HALO_CHECK(meta.step <= s_.stage.steps, latest->string(), ": step ", meta.step,
             " is past the stage's ", s_.stage.steps, " steps");
  task_.load_model(*latest / "model");
  if (zero1_ranges_.empty()) {
    checkpoint::load_training_state(*latest, *optimizer_);
    check_moment_dtypes(*optimizer_, *latest);
  } else {
    // The checkpoint holds one optimizer over all parameters; keep this rank's range.
    auto full = make_adamw(params_, s_.stage.optimizer);
    checkpoint::load_training_state(*latest, *full);
    check_moment_dtypes(*full, *latest);
    if (optimizer_) {
      keep_own_state(*full, *optimizer_, param_tensors_,
                     zero1_ranges_.at(static_cast<size_t>(s_.rank)));
    }
  }
  loader_->restore(data::LoaderCursor::from_json(meta.loader_cursor));
  std::fprintf(stderr, "[%s] resumed from %s (step %lld)\n", s_.stage.name.c_str(), latest->c_str(),
               static_cast<long long>(meta.step));
  return meta.step;
}

void Trainer::save_checkpoint(int64_t step) {
  // Every rank holds the same model; rank 0 writes. Without ZeRO-1 every rank also holds the
  // same optimizer state; with it, the owners first send rank 0 their ranges' state, which it
  // writes as one optimizer over all parameters (the unsharded format).
  std::unique_ptr<torch::optim::AdamW> full;
  if (!zero1_ranges_.empty()) {
    if (s_.rank == 0) full = make_adamw(params_, s_.stage.optimizer);
    gather_adamw_state(*s_.sync, s_.rank, param_tensors_, zero1_ranges_, optimizer_.get(),
                       full.get());
  }
  if (s_.rank != 0) return;
  checkpoint::CheckpointStore store(s_.stage_dir / "checkpoints", s_.stage.checkpoint.keep_last);
  fs::path tmp = store.begin(step);
  task_.save_model(tmp / "model");
  checkpoint::CheckpointMeta meta;
  meta.stage = s_.stage.name;
  meta.step = step;
  meta.world_size = s_.world_size;
  meta.config_hash = s_.config_hash;
  meta.loader_cursor = loader_->cursor().to_json();
  meta.config = s_.resolved_config;
  checkpoint::save_training_state(tmp, meta, full ? *full : *optimizer_);
  store.commit(step);
}

double Trainer::train_step(int64_t step, double* grad_norm) {
  auto shape = s_.stage.shape_at(step);
  if (shape != shape_) {
    loader_->set_shape(shape.first, shape.second);
    shape_ = shape;
  }
  task_.set_training(true);
  // The step's micro-batches first: their counted tokens, summed over ranks, divide every
  // micro-batch's loss sum (and the fingerprint of the global batch rides along).
  const int64_t micro_steps = s_.stage.grad_accum;
  std::vector<data::Batch> batches;
  std::vector<double> totals{0.0, 0.0};  // {counted tokens, batch fingerprint}
  for (int64_t micro = 0; micro < micro_steps; ++micro) {
    batches.push_back(loader_->next());
    totals[0] += static_cast<double>(task_.counted_tokens(batches.back()));
    totals[1] += batch_rows_fingerprint(batches.back(), micro, s_.rank * loader_->local_batch());
  }
  if (s_.sync) totals = s_.sync->all_reduce_sum(std::move(totals));
  const double counted = totals[0];
  HALO_CHECK(counted > 0, "stage ", s_.stage.name, ": step ", step + 1,
             " has no counted token in its ", micro_steps, " micro-batches on any rank");
  last_batch_fingerprint_ = static_cast<int64_t>(totals[1]);

  // bfloat16: float32 master weights under autocast. bfloat16-pure needs none: the parameters
  // are bfloat16 already (the losses still compute in float32, as the authors' do).
  const bool autocast = s_.device.is_cuda() && s_.stage.precision == config::Precision::kBFloat16;
  double loss_sum = 0;  // this rank's share of the global token mean
  for (int64_t micro = 0; micro < micro_steps; ++micro) {
    at::Tensor loss;
    {
      AutocastScope scope(autocast);
      loss = task_.micro_batch_loss(batches[micro], counted);
    }
    HALO_CHECK(loss.dim() == 0, "stage ", s_.stage.name, ": the loss must be a scalar");
    // Data parallel: the last micro-batch's backward sums the accumulated gradients over ranks
    // bucket by bucket while it runs; the earlier ones only accumulate.
    if (s_.sync) {
      s_.sync->backward(loss, /*reduce=*/micro == micro_steps - 1);
    } else {
      loss.backward();
    }
    loss_sum += loss.detach().to(at::kDouble).item<double>();
  }
  *grad_norm = clip_grad_norm(param_tensors_, s_.stage.clip_grad_norm);
  if (optimizer_) {
    set_learning_rate(*optimizer_,
                      lr_at(s_.stage.schedule, s_.stage.optimizer.lr, step, s_.stage.steps));
    optimizer_->step();
  }
  // zero_grad(set_to_none) of every trained parameter (with ZeRO-1 the optimizer holds a range).
  for (auto& p : param_tensors_) p.mutable_grad().reset();
  // ZeRO-1: this rank updated its range only; every range comes from its owner.
  if (!zero1_ranges_.empty()) broadcast_from_owners(*s_.sync, param_tensors_, zero1_ranges_);
  return s_.sync ? s_.sync->all_reduce_sum({loss_sum})[0] : loss_sum;
}

TrainResult Trainer::train() {
  TrainResult r;
  SignalScope signals(s_.handle_signals);
  fs::create_directories(s_.stage_dir);
  int64_t step = maybe_resume();
  const int64_t start_step = step;
  r.resumed = step > 0;
  // Rank 0 alone owns metrics.jsonl (every rank logs the same global figures).
  std::optional<MetricsLog> metrics;
  if (s_.rank == 0) metrics.emplace(s_.stage_dir / "metrics.jsonl", step);
  ProgressBar bar(s_.stage.name, s_.stage.steps);
  checkpoint::CheckpointStore store(s_.stage_dir / "checkpoints", s_.stage.checkpoint.keep_last);

  while (step < s_.stage.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    double grad_norm = 0;
    const double lr = lr_at(s_.stage.schedule, s_.stage.optimizer.lr, step, s_.stage.steps);
    const double loss = train_step(step, &grad_norm);
    HALO_CHECK(std::isfinite(loss), "stage ", s_.stage.name, ": the loss became ", loss,
               " at step ", step + 1, ". HINT: lower optimizer.lr or enable clip_grad_norm.");
    const double dt = seconds_since(t0);
    ++step;
    const int64_t tokens = s_.stage.tokens_per_step();
    bar.update(step, loss, lr, tokens, dt,
               step % s_.stage.log_every == 0 || step == s_.stage.steps);
    if (metrics) {
      metrics->write({{"step", step},
                      {"loss", loss},
                      {"lr", lr},
                      {"grad_norm", grad_norm},
                      {"tokens", tokens},
                      {"seq_len", shape_.first},
                      {"tokens_per_s", dt > 0 ? tokens / dt : 0.0},
                      {"batch_hash", last_batch_fingerprint_}});
    }
    r.last_loss = loss;
    if (s_.stage.eval.every > 0 && step % s_.stage.eval.every == 0 && step < s_.stage.steps) {
      double v = validation_loss(task_, s_.manifest, s_.stage.seq_len, s_.stage.batch_size,
                                 s_.stage.eval.batches, s_.rank, s_.world_size, s_.sync);
      if (metrics) metrics->write({{"step", step}, {"val_loss", v}});
      std::fprintf(stderr, "[%s] step %lld validation loss %.4f\n", s_.stage.name.c_str(),
                   static_cast<long long>(step), v);
    }
    // Every rank stops at the same step with the same signal (a SIGTERM may reach only one).
    const bool got_own = stop_requested();
    const int stop = agreed_stop_signal(s_.sync);
    if (stop != 0 || step % s_.stage.checkpoint.every == 0 || step == s_.stage.steps) {
      save_checkpoint(step);
    }
    if (stop != 0) {
      std::fprintf(stderr, "[%s] signal %d%s: checkpoint of step %lld written, stopping\n",
                   s_.stage.name.c_str(), stop, got_own ? "" : " (received by another rank)",
                   static_cast<long long>(step));
      r.interrupted = true;
      break;
    }
  }
  r.step = step;
  r.tokens_per_second = bar.tokens_per_second();
  if (auto latest = store.latest()) r.checkpoint = *latest;
  if (!r.interrupted) {
    r.val_loss = validation_loss(task_, s_.manifest, s_.stage.seq_len, s_.stage.batch_size,
                                 s_.stage.eval.batches, s_.rank, s_.world_size, s_.sync);
    if (metrics && step > start_step) metrics->write({{"step", step}, {"val_loss", r.val_loss}});
  }
  return r;
}

double validation_loss(TrainTask& task, const fs::path& manifest, int64_t seq_len,
                       int64_t batch_size, int64_t batches, int rank, int world_size,
                       GradientSync* sync) {
  data::PackedLoader loader(
      data::evaluation_loader_options(manifest, seq_len, batch_size, rank, world_size));
  torch::NoGradGuard no_grad;
  task.set_training(false);
  std::vector<double> totals{0.0, 0.0};  // {loss summed over counted tokens, counted tokens}
  for (int64_t i = 0; i < batches; ++i) {
    auto batch = loader.next();
    totals[0] += task.micro_batch_loss(batch, 1.0).to(at::kDouble).item<double>();
    totals[1] += static_cast<double>(task.counted_tokens(batch));
  }
  task.set_training(true);
  if (sync) totals = sync->all_reduce_sum(std::move(totals));
  HALO_CHECK(totals[1] > 0, manifest.string(), ": the ", batches,
             " validation batches hold no counted token");
  return totals[0] / totals[1];
}

}  // namespace halo::train
