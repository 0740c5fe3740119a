// run_stage3: cross-entropy finetuning of the stage-2 student with the length curriculum.
#include "halo/stages/stage3_long_context.h"

#include "halo/stages/student_builder.h"

#include "common/error.h"
#include "halo/stages/lm_loss.h"
#include "halo/stages/student_task.h"
#include "halo/train/activation_checkpoint.h"
#include "hypenet/hypenet_checkpoint.h"

namespace halo::stages {

at::Tensor hypenet_hidden_checkpointed(hypenet::HypeNetForCausalLM& model, const at::Tensor& ids) {
  hypenet::ForwardOptions fo;
  fo.training = true;
  fo.return_hidden = true;
  fo.skip_logits = true;
  fo.layer_hook = [](size_t, const train::BlockFn& run, const at::Tensor& x) {
    return train::checkpointed(run, x);
  };
  return model->forward(ids, fo).hidden;
}

namespace {

class LongContextTask : public StudentTask {
 public:
  LongContextTask(hypenet::HypeNetForCausalLM student, c10::Device device, at::ScalarType dtype,
                  bool checkpointing, int64_t chunk_tokens)
      : StudentTask(std::move(student), device, dtype),
        checkpointing_(checkpointing),
        chunk_tokens_(chunk_tokens) {}

  // Every position counts (causal_lm_loss).
  int64_t counted_tokens(const data::Batch& batch) override { return batch.labels.numel(); }
  at::Tensor micro_batch_loss(const data::Batch& batch, double normalizer) override {
    auto ids = batch.input_ids.to(device_);
    at::Tensor hidden;
    if (checkpointing_ && at::GradMode::is_enabled()) {
      hidden = hypenet_hidden_checkpointed(student_, ids);
    } else {
      hypenet::ForwardOptions fo;
      fo.training = true;
      fo.return_hidden = true;
      fo.skip_logits = true;
      hidden = student_->forward(ids, fo).hidden;
    }
    return causal_lm_loss(hidden, student_->output_embedding(), batch.labels.to(device_),
                          chunk_tokens_, normalizer);
  }

 private:
  bool checkpointing_;
  int64_t chunk_tokens_;
};

}  // namespace

StageOutput run_stage3(const StageContext& ctx) {
  HALO_CHECK(!ctx.inputs.student.empty(), "stage3 \"", ctx.stage().name,
             "\" needs the stage-2 student");
  auto student = hypenet::load_hypenet(ctx.inputs.student.string(), at::kFloat, at::kCPU);
  apply_student_runtime_options(student, ctx.pipeline->student);
  LongContextTask task(std::move(student), ctx.device, trained_parameter_dtype(ctx.stage()),
                       ctx.stage().activation_checkpointing, ctx.stage().loss_chunk_tokens);
  train::Trainer trainer(task, ctx.trainer_setup());
  return finish_training_stage(ctx, trainer.train());
}

}  // namespace halo::stages
