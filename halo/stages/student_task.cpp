// StudentTask: parameters and HF-layout save/load of a HypeNet student.
#include "halo/stages/student_task.h"

#include "halo/stages/student_builder.h"
#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/module_io.h"

namespace halo::stages {

StudentTask::StudentTask(hypenet::HypeNetForCausalLM student, c10::Device device,
                         at::ScalarType dtype)
    : student_(std::move(student)), device_(device), dtype_(dtype) {
  student_->to(device_, dtype_);
  for (auto& p : student_->parameters()) p.set_requires_grad(true);
  student_->train();
}

std::vector<std::pair<std::string, at::Tensor>> StudentTask::trainable_parameters() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : student_->named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

void StudentTask::save_model(const std::filesystem::path& dir) {
  hypenet::save_hypenet(dir.string(), student_, dtype_, 0);
}

void StudentTask::load_model(const std::filesystem::path& dir) {
  torch::NoGradGuard no_grad;
  check_checkpoint_head(dir, student_);
  hypenet::load_module_parameters(*student_, dir.string(), dtype_, device_,
                                  student_->config().base.tie_word_embeddings);
}

void StudentTask::set_training(bool training) {
  student_->train(training);
}

}  // namespace halo::stages
