// StudentTask: the part of a TrainTask shared by the stages that train a whole HypeNet student
// (stage 2, stage 3): every parameter trainable, held in the stage's parameter dtype
// (trained_parameter_dtype: float32, or bfloat16 for precision bfloat16-pure), save/load in the
// authors' HF layout in that dtype (so a resume restores the parameters bit for bit).
#pragma once

#include "halo/train/trainer.h"
#include "hypenet/hypenet_model.h"

namespace halo::stages {

class StudentTask : public train::TrainTask {
 public:
  // `dtype`: the trained parameters' dtype (float32 or bfloat16).
  StudentTask(hypenet::HypeNetForCausalLM student, c10::Device device, at::ScalarType dtype);
  std::vector<std::pair<std::string, at::Tensor>> trainable_parameters() override;
  void save_model(const std::filesystem::path& dir) override;
  void load_model(const std::filesystem::path& dir) override;
  void set_training(bool training) override;

 protected:
  hypenet::HypeNetForCausalLM student_;
  c10::Device device_;
  at::ScalarType dtype_;
};

}  // namespace halo::stages
