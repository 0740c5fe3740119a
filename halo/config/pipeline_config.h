// PipelineConfig: the whole pipeline YAML (configs/pipelines/*.yaml), documented field by field
// in docs/configs.md. Sections: run, teacher, data, student, quality_gate, stages. Built once by
// load_pipeline_config (every error names the file, line, column and key path, or the --set
// argument that gave the value), printed resolved at start, and hashed per stage so a checkpoint
// from a different config is refused. The hashes cover what the inputs are, not where they are:
// the data by its content id and a pretrain stage's model_config by its content, so a run folder
// moved with its data resumes.
#pragma once

#include "halo/config/dist_options.h"
#include "halo/config/stage_config.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace halo::config {

// `run.device`: where every stage runs.
enum class Device { kCpu, kCuda };
// The names, in the enum's order.
inline const std::vector<std::string> kDevices = {"cpu", "cuda"};
inline const std::string& device_name(Device device) {
  return enum_name(device, kDevices);
}

// `run:` where the run lives and how it runs.
struct RunSection {
  std::string out_dir;           // run folder: one sub-folder per stage, report.md, metrics
  uint64_t seed = 0;             // global seed (combined with each stage's seed)
  Device device = Device::kCpu;  // "cpu" | "cuda"
  int64_t threads = 0;           // intra-op CPU threads (0 = LibTorch's default)
};

// `student.lightning_recurrence`: what the Lightning recurrence computes in.
//   kFloat32   "float32": float32 q, k, v, exact products.
//   kTf32      "tf32": float32 q, k, v with TF32 products on CUDA (the authors' implementation
//              as fla runs it).
//   kAutocast  "autocast": in bfloat16 stages on CUDA it gets them in bfloat16 (fastest kernels).
enum class LightningRecurrence { kFloat32, kTf32, kAutocast };
// The names, in the enum's order (also `bench stage2 --lightning-recurrence`).
inline const std::vector<std::string> kLightningRecurrences = {"float32", "tf32", "autocast"};
inline const std::string& lightning_recurrence_name(LightningRecurrence recurrence) {
  return enum_name(recurrence, kLightningRecurrences);
}

// `teacher:` the model being converted.
struct TeacherSection {
  std::string path;  // Hugging Face folder of a Qwen3 model; empty = the pipeline's pretrain stage
};

// `data:` token data written by `halo-distill prepare`.
struct DataSection {
  std::string manifest;  // manifest.json of the prepared shards
  int64_t prefetch = 2;  // batches prepared ahead by the loader thread (0 = synchronous)
  // Content id of the shards (data::Manifest::dataset_id), set by the pipeline runner from the
  // manifest (not read from the YAML); when set the stage hashes cover it instead of the path.
  std::string dataset_id;
};

// `student:` HypeNet options (HALO_NOTES 2); defaults are the authors' HypeNet-2B release.
struct StudentSection {
  std::string lightning_scale = "1/sqrt(d)";  // "1/sqrt(d)" | "1/d" | "1"
  bool lightning_use_qk_norm = true;          // per-head RMSNorm on q, k of RNN layers
  bool lightning_use_output_norm = true;      // RMSNorm over the RNN output heads
  bool lightning_use_output_gate = true;      // o * sigmoid(z_proj(x)) in RNN layers
  bool expand_kv_proj = true;                 // RNN k/v expanded from the teacher's GQA to MHA
  bool attn_use_rope = false;                 // false: NoPE in the attention layers (HyPE)
  bool attn_use_output_gate = true;           // o * sigmoid(o_gate(x)) in attention layers
  double attn_logits_scaling = 0;             // a of "hype a" (inference-only q scale; 0 = off)
  uint64_t init_seed = 0;                     // seed of the new weights (o_gate, z_proj)
  // The student's LM head (one of kLmHeads). "tied": the output embedding is the input embedding
  // (tie_word_embeddings true), as every released HypeNet, also HypeNet-9B from the untied
  // Qwen3-8B: an untied teacher's lm_head.weight is not used. "teacher": as the teacher (an
  // untied teacher gives an untied head initialised from its lm_head.weight). "untied": a head of
  // its own, initialised from the teacher's lm_head.weight, or its embedding when tied.
  std::string lm_head = "tied";
  // What the Lightning recurrence computes in (LightningRecurrence above).
  LightningRecurrence lightning_recurrence = LightningRecurrence::kFloat32;
};
// The values of student.lm_head (also `convert --lm-head`).
inline const std::vector<std::string> kLmHeads = {"tied", "teacher", "untied"};

// `quality_gate.thresholds:` what the gate of one student stage must reach, or the pipeline
// stops there with exit 1. None set: the gate reports and does not gate ("not gated").
struct PasskeyThreshold {
  int64_t length = 0;   // one of quality_gate.passkey_lengths
  double accuracy = 0;  // passkey accuracy at that length at least this, in [0, 1]
};
struct GateThresholds {
  std::string stage;                     // the gated stage (default: the last student stage)
  std::optional<double> max_loss_ratio;  // student / teacher validation loss at most this
  std::vector<PasskeyThreshold> min_passkey_accuracy;
  bool any() const { return max_loss_ratio.has_value() || !min_passkey_accuracy.empty(); }
};

// `quality_gate:` run after every training stage, appended to RUN_DIR/report.md.
struct QualityGateSection {
  bool enabled = true;
  int64_t validation_batches = 4;        // validation loss over this many batches
  int64_t seq_len = 128;                 // length of the validation sequences
  int64_t batch_size = 4;                // sequences per validation batch
  std::vector<int64_t> passkey_lengths;  // passkey retrieval at these context lengths
  int64_t passkey_trials = 8;            // trials per length
  bool key_value = true;                 // also key-value retrieval (needs lengths >= 256)
  // How retrieval prompts are decoded: "cached" (prefill once, then cached decode on the
  // generation engine) or "recompute" (the whole prefix again for every new token: the O(T^2)
  // reference, kept to time and check the engine against).
  std::string decode = "cached";
  int64_t prefill_chunk = 2048;  // prompt tokens per forward when cached
  // Data parallel: the gate runs on rank 0; the other ranks wait for it at most this long
  // (seconds) instead of the collective timeout dist.timeout_s.
  double timeout_s = 7200;
  GateThresholds thresholds;
};

struct PipelineConfig {
  std::string file;  // the YAML it was read from
  RunSection run;
  TeacherSection teacher;
  DataSection data;
  StudentSection student;
  QualityGateSection quality_gate;
  DistOptions dist;  // `dist:` (data-parallel runs only; not part of stage hashes)
  std::vector<StageConfig> stages;

  const StageConfig& stage(const std::string& name) const;  // errors list the stage names
  int stage_index(const std::string& name) const;           // -1 when absent
  const StageConfig* first_of_kind(StageKind kind) const;   // nullptr when absent

  nlohmann::json to_json() const;  // the resolved tree

  // Stage hashes. The rule that turns the resolved tree into what a stage's hash covers has a
  // format number, hashed with it ("stage_hash_format"). A change of that rule, or of the tree
  // for an unchanged YAML (a new key, a renamed value), is a new format: kStageHashFormat goes
  // up and the rule it replaces moves to earlier_stage_hashes, so run folders hashed under it
  // still resume in place (what they record next carries the current format's hash). A hash of
  // no format this build knows is refused as a different configuration; the refusal names the
  // changed keys, or says that none changed and the writer hashed otherwise.
  //   2  (issue 21) every key of the resolved tree except those that never change results.
  //   1  as 2 without the format number, and without student.lightning_recurrence when float32
  //      and student.lm_head when tied (keys added after runs had been hashed).
  //   0  as 1 with data.manifest and model_config by path: before the content ids.
  static constexpr int kStageHashFormat = 2;
  static constexpr int kOldestStageHashFormat = 0;  // the oldest one still accepted
  // Identity of everything stage `index` depends on (the global sections and stages 0..index,
  // minus what does not change results: out_dir, threads, prefetch, the quality gate, dist,
  // checkpoint cadence, and the paths of inputs that have a content id), in the current format:
  // fnv1a_hex of hashed_part(to_json(), index).
  std::string stage_hash(size_t index) const;
  // Stage `index`'s hashes under the earlier formats, newest first (1, 0).
  std::vector<std::string> earlier_stage_hashes(size_t index) const;
  // Whether `recorded` (a done.json or checkpoint's config_hash) is stage `index`'s hash in the
  // current format or an earlier one.
  bool stage_hash_matches(size_t index, const std::string& recorded) const;
  // The part of a resolved tree (to_json(), or one recorded in a run folder) that the hash of
  // stage `index` covers in the current format. Paths are left out where the tree has the
  // content id beside them.
  static nlohmann::json hashed_part(nlohmann::json resolved, size_t index);
};

// Reads and validates `path`. `overrides` are "a.b.c=value" pairs applied to the YAML tree
// before validation (value parsed as YAML; `stages.NAME.key` addresses a stage by name).
PipelineConfig load_pipeline_config(const std::string& path,
                                    const std::vector<std::string>& overrides = {});

// 64-bit FNV-1a of `text`, as 16 hex digits.
std::string fnv1a_hex(const std::string& text);

}  // namespace halo::config
