// run_stage1: TrainTask that aligns every layer's RNN mixer to the teacher's attention.
#include "halo/stages/stage1_alignment.h"

#include "common/error.h"
#include "halo/stages/student_builder.h"
#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/module_io.h"
#include "hypenet/qwen3_checkpoint.h"

#include <cmath>

namespace halo::stages {

namespace fs = std::filesystem;

at::Tensor alignment_loss_sum(const at::Tensor& student, const at::Tensor& target,
                              config::Loss kind) {
  auto diff = student.to(at::kFloat) - target.to(at::kFloat);  // [B, T, D]
  if (kind == config::Loss::kMse) return diff.pow(2).mean({-1}).sum();
  HALO_CHECK(kind == config::Loss::kL2Norm, "stage 1 loss \"", config::loss_name(kind),
             "\": expected mse or l2norm");
  return (diff.norm(2, {-1}) / std::sqrt(static_cast<double>(diff.size(-1)))).sum();
}

namespace {

class AlignmentTask : public train::TrainTask {
 public:
  // The teacher is read once: in float32 on the CPU for the conversion (as stage 2 does), then
  // moved to the device in the frozen teacher's dtype to give the alignment targets.
  AlignmentTask(const StageContext& ctx)
      : teacher_(hypenet::load_qwen3(ctx.inputs.teacher.string(), at::kFloat, at::kCPU)),
        loss_kind_(ctx.stage().loss),
        device_(ctx.device),
        dtype_(trained_parameter_dtype(ctx.stage())) {
    student_ = all_rnn_student(teacher_, ctx.pipeline->student);
    student_->to(device_, dtype_);
    teacher_->to(device_, frozen_teacher_dtype(ctx.stage(), ctx.device));
    teacher_->eval();
    for (auto& p : teacher_->parameters()) p.set_requires_grad(false);
    for (auto& p : student_->named_parameters()) {
      p.value().set_requires_grad(is_mixer_parameter(p.key()));
    }
  }

  static bool is_mixer_parameter(const std::string& name) {
    return name.rfind("model.layers.", 0) == 0 && name.find(".self_attn.") != std::string::npos;
  }

  std::vector<std::pair<std::string, at::Tensor>> trainable_parameters() override {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& p : student_->named_parameters()) {
      if (is_mixer_parameter(p.key())) out.emplace_back(p.key(), p.value());
    }
    return out;
  }

  // Every position counts (its mixers' outputs in every layer).
  int64_t counted_tokens(const data::Batch& batch) override { return batch.input_ids.numel(); }
  at::Tensor micro_batch_loss(const data::Batch& batch, double normalizer) override {
    auto ids = batch.input_ids.to(device_);
    hypenet::CausalLMOutput t;
    {
      torch::NoGradGuard no_grad;
      hypenet::ForwardOptions fo;
      fo.capture_mixers = true;
      fo.skip_logits = true;
      t = teacher_->forward(ids, fo);
    }
    auto positions = at::arange(ids.size(1), at::TensorOptions().dtype(at::kLong).device(device_));
    // training: no inference-time logit scaling
    auto in = student_->mixer_inputs(positions, dtype_, /*training=*/true);
    at::Tensor total;
    const size_t L = t.mixer_inputs.size();
    for (size_t i = 0; i < L; ++i) {
      auto out = student_->layer(i).mixer_forward(t.mixer_inputs[i].detach(), in);
      auto l = alignment_loss_sum(out, t.mixer_outputs[i].detach(), loss_kind_);
      total = total.defined() ? total + l : l;
    }
    return total / (static_cast<double>(L) * normalizer);
  }

  void save_model(const fs::path& dir) override {
    hypenet::save_hypenet(dir.string(), student_, dtype_, 0);
  }
  void load_model(const fs::path& dir) override {
    torch::NoGradGuard no_grad;
    check_checkpoint_head(dir, student_);
    hypenet::load_module_parameters(*student_, dir.string(), dtype_, device_,
                                    student_->config().base.tie_word_embeddings);
  }
  void set_training(bool training) override { student_->train(training); }

 private:
  hypenet::Qwen3ForCausalLM teacher_;
  hypenet::HypeNetForCausalLM student_{nullptr};
  config::Loss loss_kind_;
  c10::Device device_;
  at::ScalarType dtype_;  // the student's (trained_parameter_dtype)
};

}  // namespace

StageOutput run_stage1(const StageContext& ctx) {
  HALO_CHECK(!ctx.inputs.teacher.empty(), "stage1 \"", ctx.stage().name, "\" needs a teacher");
  AlignmentTask task(ctx);
  train::Trainer trainer(task, ctx.trainer_setup());
  return finish_training_stage(ctx, trainer.train());
}

}  // namespace halo::stages
