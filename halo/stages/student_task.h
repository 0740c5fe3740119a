// StudentTask: the part of a TrainTask shared by the stages that train a whole HypeNet student
// (stage 2, stage 3): every parameter trainable, save/load in the authors' HF layout.
#pragma once

#include "halo/train/trainer.h"
#include "hypenet/hypenet_model.h"

namespace halo::stages {

class StudentTask : public train::TrainTask {
 public:
  StudentTask(hypenet::HypeNetForCausalLM student, c10::Device device);
  std::vector<std::pair<std::string, at::Tensor>> trainable_parameters() override;
  void save_model(const std::filesystem::path& dir) override;
  void load_model(const std::filesystem::path& dir) override;
  void set_training(bool training) override;

 protected:
  hypenet::HypeNetForCausalLM student_;
  c10::Device device_;
};

}  // namespace halo::stages
