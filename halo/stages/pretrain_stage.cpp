// run_pretrain_stage: TrainTask for a Qwen3 model trained with cross-entropy.
#include "halo/stages/pretrain_stage.h"

#include "common/error.h"
#include "halo/stages/lm_loss.h"
#include "halo/stages/student_builder.h"
#include "hypenet/module_io.h"
#include "hypenet/qwen3_checkpoint.h"

namespace halo::stages {

namespace fs = std::filesystem;

namespace {

class PretrainTask : public train::TrainTask {
 public:
  // `dtype`: the trained parameters' dtype (trained_parameter_dtype); the random initialisation
  // is drawn in float32 and rounded to it.
  PretrainTask(const hypenet::Qwen3Config& config, uint64_t seed, c10::Device device,
               at::ScalarType dtype, int64_t chunk_tokens)
      : model_(config), device_(device), dtype_(dtype), chunk_tokens_(chunk_tokens) {
    hypenet::init_qwen3_random(model_, seed);
    model_->to(device_, dtype_);
    model_->train();
  }
  std::vector<std::pair<std::string, at::Tensor>> trainable_parameters() override {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& p : model_->named_parameters()) out.emplace_back(p.key(), p.value());
    return out;
  }
  // Every position counts (causal_lm_loss).
  int64_t counted_tokens(const data::Batch& batch) override { return batch.labels.numel(); }
  at::Tensor micro_batch_loss(const data::Batch& batch, double normalizer) override {
    hypenet::ForwardOptions fo;
    fo.training = true;
    fo.return_hidden = true;
    fo.skip_logits = true;
    auto out = model_->forward(batch.input_ids.to(device_), fo);
    return causal_lm_loss(out.hidden, model_->output_embedding(), batch.labels.to(device_),
                          chunk_tokens_, normalizer);
  }
  void save_model(const fs::path& dir) override {
    hypenet::save_qwen3(dir.string(), model_, dtype_, 0);
  }
  void load_model(const fs::path& dir) override {
    torch::NoGradGuard no_grad;
    hypenet::load_module_parameters(*model_, dir.string(), dtype_, device_,
                                    model_->config().tie_word_embeddings);
  }
  void set_training(bool training) override { model_->train(training); }

 private:
  hypenet::Qwen3ForCausalLM model_;
  c10::Device device_;
  at::ScalarType dtype_;
  int64_t chunk_tokens_;
};

}  // namespace

StageOutput run_pretrain_stage(const StageContext& ctx) {
  const auto& st = ctx.stage();
  auto model_config = hypenet::Qwen3Config::from_json_file(st.model_config);
  model_config.dtype = "float32";
  PretrainTask task(model_config, ctx.pipeline->run.seed * 1000003ull + st.seed, ctx.device,
                    trained_parameter_dtype(st), st.loss_chunk_tokens);
  train::Trainer trainer(task, ctx.trainer_setup());
  return finish_training_stage(ctx, trainer.train());
}

}  // namespace halo::stages
