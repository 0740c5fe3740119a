// run_stage2: TrainTask for chunked full-vocabulary KL distillation.
#include "halo/stages/stage2_distillation.h"

#include "common/error.h"
#include "halo/losses/chunked_kl.h"
#include "halo/stages/student_builder.h"
#include "halo/stages/student_task.h"
#include "hypenet/qwen3_checkpoint.h"

namespace halo::stages {

namespace {

class DistillationTask : public StudentTask {
 public:
  DistillationTask(hypenet::HypeNetForCausalLM student, hypenet::Qwen3ForCausalLM teacher,
                   int64_t chunk_tokens, c10::Device device, at::ScalarType teacher_dtype,
                   at::ScalarType student_dtype)
      : StudentTask(std::move(student), device, student_dtype),
        teacher_(std::move(teacher)),
        chunk_tokens_(chunk_tokens) {
    teacher_->to(device_, teacher_dtype);
    teacher_->eval();
    for (auto& p : teacher_->parameters()) p.set_requires_grad(false);
  }

  // Every position counts: the KL of each token's next-token distributions.
  int64_t counted_tokens(const data::Batch& batch) override { return batch.input_ids.numel(); }
  at::Tensor micro_batch_loss(const data::Batch& batch, double normalizer) override {
    auto ids = batch.input_ids.to(device_);
    hypenet::ForwardOptions fo;
    fo.return_hidden = true;
    fo.skip_logits = true;
    at::Tensor teacher_hidden;
    {
      torch::NoGradGuard no_grad;
      teacher_hidden = teacher_->forward(ids, fo).hidden;
    }
    fo.training = true;
    at::Tensor student_hidden = student_->forward(ids, fo).hidden;
    const int64_t D = student_hidden.size(-1);
    const int64_t N = ids.numel();
    auto mask = at::ones({N}, at::TensorOptions().dtype(at::kBool).device(device_));
    // The KL's softmaxes and sums run in float32 whatever the models' dtype (bfloat16-pure
    // included), as the authors' chunked KL casts its logits to float32.
    return losses::chunked_kl_loss(student_hidden.reshape({N, D}), student_->output_embedding(),
                                   teacher_hidden.reshape({N, D}), teacher_->output_embedding(),
                                   mask, chunk_tokens_, normalizer);
  }

 private:
  hypenet::Qwen3ForCausalLM teacher_;
  int64_t chunk_tokens_;
};

}  // namespace

std::unique_ptr<StudentTask> make_distillation_task(hypenet::HypeNetForCausalLM student,
                                                    hypenet::Qwen3ForCausalLM teacher,
                                                    const config::StageConfig& stage,
                                                    c10::Device device) {
  return std::make_unique<DistillationTask>(
      std::move(student), std::move(teacher), stage.loss_chunk_tokens, device,
      frozen_teacher_dtype(stage, device), trained_parameter_dtype(stage));
}

StageOutput run_stage2(const StageContext& ctx) {
  HALO_CHECK(
      !ctx.inputs.teacher.empty() && !ctx.inputs.student.empty() && !ctx.inputs.selection.empty(),
      "stage2 \"", ctx.stage().name, "\" needs the teacher, the stage-1 student and the selection");
  auto teacher = hypenet::load_qwen3(ctx.inputs.teacher.string(), at::kFloat, at::kCPU);
  auto mixers = read_selection_mixers(ctx.inputs.selection);
  auto student = hybrid_student(teacher, ctx.pipeline->student, mixers, ctx.inputs.student);
  auto task =
      make_distillation_task(std::move(student), std::move(teacher), ctx.stage(), ctx.device);
  train::Trainer trainer(*task, ctx.trainer_setup());
  return finish_training_stage(ctx, trainer.train());
}

}  // namespace halo::stages
