// Student construction for stages 1 and 2.
#include "halo/stages/student_builder.h"

#include "common/error.h"
#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/weight_transfer.h"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace halo::stages {

hypenet::HypeNetConfig student_config(const config::StudentSection& s,
                                      const hypenet::Qwen3Config& teacher,
                                      const std::vector<hypenet::MixerType>& mixers) {
  auto c = hypenet::hypenet_config_like_release(teacher, mixers);
  c.lightning_scale = s.lightning_scale;
  c.lightning_use_qk_norm = s.lightning_use_qk_norm;
  c.lightning_use_output_norm = s.lightning_use_output_norm;
  c.lightning_use_output_gate = s.lightning_use_output_gate;
  c.expand_kv_proj = s.expand_kv_proj;
  if (!s.expand_kv_proj) c.lightning_nkv = teacher.num_key_value_heads;
  c.attn_use_rope = s.attn_use_rope;
  c.attn_use_output_gate = s.attn_use_output_gate;
  if (s.attn_logits_scaling > 0) c.attn_logits_scaling_a = s.attn_logits_scaling;
  c.base.tie_word_embeddings =
      hypenet::student_head_tied(s.lm_head, teacher.tie_word_embeddings, "student.lm_head");
  c.base.dtype = "float32";
  c.validate("pipeline student section");
  return c;
}

hypenet::HypeNetForCausalLM all_rnn_student(hypenet::Qwen3ForCausalLM& teacher,
                                            const config::StudentSection& s) {
  const auto& tc = teacher->config();
  std::vector<hypenet::MixerType> mixers(tc.num_hidden_layers, hypenet::MixerType::kLightning);
  auto student = hypenet::hypenet_from_teacher(teacher, student_config(s, tc, mixers), s.init_seed);
  apply_student_runtime_options(student, s);
  return student;
}

void apply_student_runtime_options(hypenet::HypeNetForCausalLM& student,
                                   const config::StudentSection& s) {
  switch (s.lightning_recurrence) {
    case config::LightningRecurrence::kFloat32:
      student->set_lightning_recurrence(hypenet::LightningRecurrence::kFloat32);
      return;
    case config::LightningRecurrence::kTf32:
      student->set_lightning_recurrence(hypenet::LightningRecurrence::kTf32);
      return;
    case config::LightningRecurrence::kAutocast:
      student->set_lightning_recurrence(hypenet::LightningRecurrence::kAutocast);
      return;
  }
  HALO_FAIL("student.lightning_recurrence: unknown value ",
            static_cast<int>(s.lightning_recurrence));
}

hypenet::HypeNetForCausalLM hybrid_student(hypenet::Qwen3ForCausalLM& teacher,
                                           const config::StudentSection& s,
                                           const std::vector<hypenet::MixerType>& mixers,
                                           const std::filesystem::path& stage1_dir) {
  const auto& tc = teacher->config();
  HALO_CHECK(static_cast<int64_t>(mixers.size()) == tc.num_hidden_layers, "selection lists ",
             mixers.size(), " layers, the teacher has ", tc.num_hidden_layers);
  auto student = hypenet::hypenet_from_teacher(teacher, student_config(s, tc, mixers), s.init_seed);
  auto rnn = hypenet::load_hypenet(stage1_dir.string(), at::kFloat, at::kCPU);
  auto source = rnn->named_parameters();
  torch::NoGradGuard no_grad;
  for (auto& p : student->named_parameters()) {
    const std::string& name = p.key();
    // model.layers.<i>.self_attn.* of an RNN layer comes from stage 1.
    if (name.rfind("model.layers.", 0) != 0) continue;
    const size_t dot = name.find('.', 13);
    const int64_t layer = std::stoll(name.substr(13, dot - 13));
    if (mixers[layer] != hypenet::MixerType::kLightning) continue;
    if (name.compare(dot, 10, ".self_attn") != 0) continue;
    const at::Tensor* src = source.find(name);
    HALO_CHECK(src != nullptr, stage1_dir.string(), ": the stage-1 student has no tensor ", name);
    HALO_CHECK(src->sizes() == p.value().sizes(), stage1_dir.string(), ": tensor ", name,
               " has shape ", src->sizes(), ", the student needs ", p.value().sizes());
    p.value().copy_(*src);
  }
  apply_student_runtime_options(student, s);
  return student;
}

void check_checkpoint_head(const std::filesystem::path& dir,
                           const hypenet::HypeNetForCausalLM& student) {
  const auto path = (dir / "config.json").string();
  const bool stored = hypenet::HypeNetConfig::from_json_file(path).base.tie_word_embeddings;
  const bool built = student->config().base.tie_word_embeddings;
  HALO_CHECK(stored == built, path, ": key 'tie_word_embeddings' is ", stored ? "true" : "false",
             " but the student this run builds has ", built ? "a tied" : "an untied",
             " head (student.lm_head). HINT: a run begun before student.lm_head existed kept an "
             "untied teacher's head; resume it with --set student.lm_head=",
             stored ? "tied" : "teacher");
}

at::ScalarType frozen_teacher_dtype(const config::StageConfig& stage, c10::Device device) {
  using config::Precision;
  const bool autocast_bf16 = device.is_cuda() && stage.precision == Precision::kBFloat16;
  return autocast_bf16 || stage.precision == Precision::kBFloat16Pure ? at::kBFloat16 : at::kFloat;
}

at::ScalarType trained_parameter_dtype(const config::StageConfig& stage) {
  return stage.precision == config::Precision::kBFloat16Pure ? at::kBFloat16 : at::kFloat;
}

std::vector<hypenet::MixerType> read_selection_mixers(const std::filesystem::path& path) {
  std::ifstream in(path);
  HALO_CHECK(in.good(), path.string(), ": missing. HINT: run the selection stage first.");
  auto j = nlohmann::json::parse(in, nullptr, false);
  HALO_CHECK(!j.is_discarded() && j.contains("mixer_types") && j["mixer_types"].is_array(),
             path.string(), ": expected an object with a \"mixer_types\" list");
  std::vector<hypenet::MixerType> out;
  for (const auto& v : j["mixer_types"]) {
    HALO_CHECK(v.is_string(), path.string(), ": mixer_types entries must be strings");
    out.push_back(hypenet::parse_mixer_type(v.get<std::string>(), path.string()));
  }
  return out;
}

}  // namespace halo::stages
