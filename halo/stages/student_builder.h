// Building HypeNet students for the stages: the config from the pipeline's `student:` section
// and the teacher's architecture, the all-RNN stage-1 student (HALO step 0 for every layer),
// and the stage-2 hybrid: attention layers from the teacher (plus new output gates), RNN layers
// from the stage-1 student.
#pragma once

#include "halo/config/pipeline_config.h"
#include "hypenet/hypenet_model.h"
#include "hypenet/qwen3_model.h"

#include <filesystem>
#include <vector>

namespace halo::stages {

// The head follows s.lm_head (hypenet::student_head_tied): tied by default, as the authors.
hypenet::HypeNetConfig student_config(const config::StudentSection& s,
                                      const hypenet::Qwen3Config& teacher,
                                      const std::vector<hypenet::MixerType>& mixers);

// Every layer a Lightning RNN initialised from the teacher's attention (float32, CPU).
hypenet::HypeNetForCausalLM all_rnn_student(hypenet::Qwen3ForCausalLM& teacher,
                                            const config::StudentSection& s);

// The hybrid for `mixers`: HALO step 0 from the teacher, then every RNN layer's mixer
// ("model.layers.i.self_attn.*") copied from the stage-1 student in `stage1_dir`.
hypenet::HypeNetForCausalLM hybrid_student(hypenet::Qwen3ForCausalLM& teacher,
                                           const config::StudentSection& s,
                                           const std::vector<hypenet::MixerType>& mixers,
                                           const std::filesystem::path& stage1_dir);

// The student section's training-time model settings (not stored in checkpoints): the
// Lightning recurrence dtype under autocast. Applied by the builders below and by stage 3.
void apply_student_runtime_options(hypenet::HypeNetForCausalLM& student,
                                   const config::StudentSection& s);

// Before a student stage resumes from checkpoint `dir`: its config.json must have the head the
// pipeline builds (student.lm_head); otherwise a HaloError naming the file, the key and the fix.
void check_checkpoint_head(const std::filesystem::path& dir,
                           const hypenet::HypeNetForCausalLM& student);

// The frozen teacher's dtype in a stage: bfloat16 when the stage runs in bfloat16 on CUDA (the
// teacher only runs forward; issue 6: "the teacher runs on every rank in bfloat16") or in
// bfloat16-pure on any device (the authors' regime), float32 otherwise (float32 stages).
at::ScalarType frozen_teacher_dtype(const config::StageConfig& stage, c10::Device device);

// The dtype of a stage's trained parameters (and so of their gradients and AdamW state, which
// take the parameters' dtype): bfloat16 for precision bfloat16-pure; float32 otherwise (the
// master weights of a bfloat16 autocast stage are float32). Also the dtype of the stage's
// checkpoints, so a resume restores the parameters bit for bit.
at::ScalarType trained_parameter_dtype(const config::StageConfig& stage);

// Reads the "mixer_types" list of a selection.json; errors name the file.
std::vector<hypenet::MixerType> read_selection_mixers(const std::filesystem::path& path);

}  // namespace halo::stages
