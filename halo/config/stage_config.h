// One entry of a pipeline's `stages:` list. A stage is a function (stage config, input
// checkpoint) -> output checkpoint; its `kind` decides which keys it accepts:
//   pretrain  - a Qwen3 teacher from scratch, cross-entropy (model_config names its architecture)
//   stage1    - hidden-state alignment of every layer's RNN mixer (loss mse | l2norm)
//   selection - which layers stay attention (method entropy | halo | kl | uniform | manual)
//   stage2    - end-to-end KL(teacher || student) over the full vocabulary, chunked
//   stage3    - long-context cross-entropy, optional length curriculum
#pragma once

#include "halo/config/config_enum.h"
#include "halo/config/train_sections.h"

#include <string>
#include <vector>

namespace halo::config {

enum class StageKind { kPretrain, kStage1, kSelection, kStage2, kStage3 };
std::string stage_kind_name(StageKind kind);

// `precision:` of a training stage: what the trained parameters, their gradients and the AdamW
// state are held in, and what the forward computes in.
//   kFloat32       "float32": everything float32 (the default).
//   kBFloat16      "bfloat16": float32 master weights and float32 AdamW state, forward and
//                  backward under CUDA bfloat16 autocast, the frozen teacher in bfloat16; CUDA
//                  only (pipeline validation refuses it on run.device: cpu).
//   kBFloat16Pure  "bfloat16-pure": parameters, gradients and AdamW state (exp_avg, exp_avg_sq)
//                  in bfloat16, no autocast, the frozen teacher in bfloat16, on any device: the
//                  authors' regime (docs/fidelity.md). Losses still compute in float32.
enum class Precision { kFloat32, kBFloat16, kBFloat16Pure };
// The names, in the enum's order (also `bench stage2 --precision`).
inline const std::vector<std::string> kPrecisions = {"float32", "bfloat16", "bfloat16-pure"};
std::string precision_name(Precision precision);
// `name` as a Precision; a HaloError naming `what` (the option or key) and the accepted names.
Precision parse_precision(const std::string& name, const std::string& what);

// `loss:` of a training stage; each kind admits its own: pretrain and stage3 "ce" (next-token
// cross-entropy), stage1 "mse" or "l2norm" (hidden-state alignment, HALO_NOTES 3), stage2 "kl"
// (KL(teacher || student) over the full vocabulary).
enum class Loss { kCrossEntropy, kMse, kL2Norm, kKl };
// The names, in the enum's order.
inline const std::vector<std::string> kLosses = {"ce", "mse", "l2norm", "kl"};
inline const std::string& loss_name(Loss loss) {
  return enum_name(loss, kLosses);
}

// `curriculum:` item: from optimizer step `from_step` on, sequences are `seq_len` long and the
// batch holds tokens_per_batch / seq_len of them (tokens per step stay constant).
struct CurriculumPoint {
  int64_t from_step = 0;
  int64_t seq_len = 0;
};

// `selection` stage keys.
struct SelectionConfig {
  std::string method = "halo";            // "entropy" | "halo" | "kl" | "uniform" | "manual"
  int64_t num_attention_layers = 1;       // layers kept as softmax attention (top-k importance)
  std::vector<int64_t> attention_layers;  // manual: the layer indices kept as attention
  int64_t batches = 4;                    // validation batches scored per layer
  int64_t seq_len = 128;                  // length of the scored sequences
  int64_t batch_size = 4;                 // sequences per scored batch
  bool report_all_scores = true;          // also compute the scores the method does not use
  // halo's recall R (eval tasks, halo/selection/halo_signal.h): the tasks (a comma list of
  // niah, niah-multikey, niah-multivalue, passkey, kv), their prompt lengths in tokens, the
  // needle depths of the niah tasks, and the prompts per length (niah: per length and depth;
  // the default stays 8, as before these keys, so earlier runs keep their stage hashes).
  std::string recall_tasks = "niah,passkey,kv";
  std::vector<int64_t> recall_lengths = {4096};
  std::vector<double> recall_depths = {0.0, 0.25, 0.5, 0.75, 1.0};
  int64_t recall_samples = 8;
  // halo's commonsense C: multiple-choice accuracy on this mc JSONL file (docs/eval.md);
  // empty: next-token accuracy on the validation batches.
  std::string commonsense_mc;
};

struct StageConfig {
  std::string name;  // unique in the pipeline; the folder RUN_DIR/<name>/
  StageKind kind = StageKind::kPretrain;
  uint64_t seed = 0;  // seeds data order and any new weights of this stage
  // Training stages (every kind but selection).
  int64_t steps = 0;       // optimizer steps (or derived from `tokens`)
  int64_t tokens = 0;      // token budget instead of steps: steps = ceil(tokens / per step)
  int64_t seq_len = 0;     // T of a training sequence (first curriculum length if any)
  int64_t batch_size = 0;  // sequences per micro-batch, summed over ranks
  int64_t grad_accum = 1;  // micro-batches per optimizer step
  std::vector<CurriculumPoint> curriculum;  // optional length curriculum (pretrain, stage3)
  Loss loss = Loss::kCrossEntropy;          // pretrain/stage3: ce; stage1: mse | l2norm; stage2: kl
  int64_t loss_chunk_tokens = 1024;         // tokens per chunk of the full-vocabulary KL / CE loss
  double clip_grad_norm = 1.0;              // global L2 norm clip (0 = off)
  // float32 (the default) | bfloat16 | bfloat16-pure: what Precision above says
  Precision precision = Precision::kFloat32;
  bool activation_checkpointing = false;  // recompute layer activations in backward
  int64_t log_every = 1;                  // steps between progress-bar lines
  std::string model_config;               // pretrain: the teacher's config.json (architecture)
  std::string model_config_id;            // its content id (set by load_pipeline_config)
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  CheckpointConfig checkpoint;
  EvalConfig eval;
  // Selection stages.
  SelectionConfig selection;

  bool is_training() const { return kind != StageKind::kSelection; }
  int64_t tokens_per_step() const { return batch_size * seq_len * grad_accum; }
  // The (seq_len, batch_size) in effect at optimizer step `step` (the curriculum, if any).
  std::pair<int64_t, int64_t> shape_at(int64_t step) const;

  // `base_dir` resolves relative paths (the YAML file's folder).
  static StageConfig from_yaml(MapReader r, const std::string& base_dir);
  nlohmann::json to_json() const;
};

}  // namespace halo::config
