// preflight: the inputs of a run, checked before its first step (preflight.h).
#include "halo/stages/preflight.h"

#include "common/error.h"
#include "data/shard_manifest.h"
#include "data/token_shards.h"
#include "data/tokenizer.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "halo/stages/stage_context.h"
#include "hypenet/checkpoint_files.h"
#include "hypenet/qwen3_config.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace halo::stages {

namespace fs = std::filesystem;
using config::StageKind;

namespace {

// Bytes per parameter of a checkpoint: float32 weights (model.safetensors) and AdamW's two
// float32 moments (optimizer.pt).
constexpr int64_t kCheckpointBytesPerParameter = 12;

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

void check_device(const config::PipelineConfig& p) {
  if (p.run.device != config::Device::kCuda) return;
  HALO_CHECK(torch::cuda::is_available(), p.file, ": run.device is \"cuda\", but ",
             at::hasCUDA() ? "this LibTorch finds no CUDA device (no GPU, or no driver, visible)"
                           : "this build's LibTorch has no CUDA support",
             ". HINT: --set run.device=cpu, or run on a machine with a GPU.");
}

// The teacher's architecture and the file it was read from: teacher.path's config.json, else the
// pretrain stage's model_config (the pipeline trains its own teacher); nullopt when neither.
struct TeacherConfig {
  hypenet::Qwen3Config config;
  std::string source;
};

std::optional<TeacherConfig> teacher_config(const config::PipelineConfig& p) {
  std::string source;
  if (!p.teacher.path.empty()) {
    HALO_CHECK(fs::is_directory(p.teacher.path), p.file, ": teacher.path: ", p.teacher.path,
               " is not a folder (expected a Hugging Face model folder: config.json and "
               "model.safetensors).");
    source = (fs::path(p.teacher.path) / "config.json").string();
  } else if (const auto* s = p.first_of_kind(StageKind::kPretrain)) {
    source = s->model_config;
  } else {
    return std::nullopt;
  }
  return TeacherConfig{hypenet::Qwen3Config::from_json_file(source), source};
}

// teacher.path's weights: every safetensors header valid against its file (CheckpointFiles), and
// the embedding the shape config.json gives.
void check_teacher_weights(const config::PipelineConfig& p, const hypenet::Qwen3Config& c) {
  std::optional<hypenet::CheckpointFiles> files;
  try {
    files.emplace(p.teacher.path);
  } catch (const HaloError& e) {
    HALO_FAIL("teacher.path ", p.teacher.path, ": the weights are not readable: ", e.what(),
              " HINT: point teacher.path at a complete Hugging Face folder (config.json and "
              "model.safetensors or its shards).");
  }
  const std::string embed = "model.embed_tokens.weight";
  HALO_CHECK(files->contains(embed), "teacher.path ", p.teacher.path, ": the weights (",
             files->names().size(), " tensors) hold no ", embed, "; expected a Qwen3 checkpoint");
  const auto& shape = files->entry(embed).shape;
  const std::vector<int64_t> expected = {c.vocab_size, c.hidden_size};
  HALO_CHECK(shape == expected, files->file_of(embed), ": ", embed, " has shape [",
             shape.empty() ? std::string() : std::to_string(shape[0]),
             shape.size() > 1 ? ", " + std::to_string(shape[1]) : std::string(),
             shape.size() > 2 ? ", ..." : "", "], but config.json gives [vocab_size, hidden_size]",
             " = [", c.vocab_size, ", ", c.hidden_size, "]");
}

// Upper bound of a HypeNet student's parameters from its teacher's: per layer one more q-sized
// projection (the RNN's z_proj or the attention's output gate) and k, v expanded to every query
// head (student.expand_kv_proj), plus per-head norms.
int64_t student_parameters_bound(const hypenet::Qwen3Config& t) {
  const int64_t q = t.num_attention_heads * t.head_dim, kv = t.num_key_value_heads * t.head_dim;
  const int64_t per_layer = t.hidden_size * q + 2 * t.hidden_size * (q - kv) + 4 * q;
  return t.num_parameters() + t.num_hidden_layers * per_layer;
}

struct StageDisk {
  std::string name;
  int64_t parameters = 0, copies = 0;
  int64_t bytes() const { return parameters * kCheckpointBytesPerParameter * copies; }
};

// The nearest existing folder at or above `path` (the run folder may not exist yet).
fs::path existing_ancestor(fs::path path) {
  path = fs::absolute(path);
  while (!path.empty() && !fs::exists(path) && path != path.root_path()) path = path.parent_path();
  return path;
}

void check_disk(const config::PipelineConfig& p, const std::vector<size_t>& pending,
                const std::optional<TeacherConfig>& teacher, bool verbose) {
  if (!teacher) return;
  std::vector<StageDisk> stages;
  int64_t need = 0;
  for (size_t i : pending) {
    const auto& s = p.stages[i];
    if (!s.is_training()) continue;
    StageDisk d;
    d.name = s.name;
    d.parameters = s.kind == StageKind::kPretrain ? teacher->config.num_parameters()
                                                  : student_parameters_bound(teacher->config);
    // One checkpoint every `every` steps and at the last; keep_last stay, and a new one is
    // complete before the oldest goes. Checkpoints already there are already off the free space.
    const int64_t saves =
        std::max<int64_t>(1, (s.steps + s.checkpoint.every - 1) / s.checkpoint.every);
    d.copies = std::min<int64_t>(s.checkpoint.keep_last + 1, saves);
    const fs::path dir = fs::path(p.run.out_dir) / s.name / "checkpoints";
    if (fs::is_directory(dir)) {
      const auto have = static_cast<int64_t>(
          checkpoint::CheckpointStore(dir, s.checkpoint.keep_last).complete_steps().size());
      d.copies = std::max<int64_t>(1, d.copies - have);
    }
    need += d.bytes();
    stages.push_back(d);
  }
  if (stages.empty()) return;
  const fs::path where = existing_ancestor(p.run.out_dir);
  const auto free_bytes = static_cast<int64_t>(fs::space(where).available);
  std::string detail;
  for (const auto& d : stages) {
    detail += str_cat(detail.empty() ? "" : "; ", d.name, ": ", d.parameters, " parameters x ",
                      kCheckpointBytesPerParameter, " bytes x ", d.copies, " checkpoint",
                      d.copies == 1 ? "" : "s", " = ", human_bytes(static_cast<double>(d.bytes())));
  }
  HALO_CHECK(need <= free_bytes,
             "not enough free disk for the checkpoints: the stages to run "
             "keep about ",
             human_bytes(static_cast<double>(need)), " (", detail, "), but ", where.string(),
             " has ", human_bytes(static_cast<double>(free_bytes)),
             " free. HINT: free some space, lower checkpoint.keep_last, or point run.out_dir at a "
             "larger disk.");
  if (verbose) {
    std::fprintf(stderr, "pre-flight: checkpoints need about %s (%s); %s free at %s\n",
                 human_bytes(static_cast<double>(need)).c_str(), detail.c_str(),
                 human_bytes(static_cast<double>(free_bytes)).c_str(), where.c_str());
  }
}

void check_shards(const config::PipelineConfig& p, const data::Manifest& m, bool verbose) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path manifest = p.data.manifest;
  std::string counts;
  int64_t bytes = 0;
  for (const auto& [split, info] : m.splits) {
    for (const auto& sh : info.shards) {
      data::verify_shard_checksum(manifest, split, sh);
      bytes += static_cast<int64_t>(fs::file_size(manifest.parent_path() / sh.file));
    }
    counts += str_cat(counts.empty() ? "" : " + ", info.shards.size(), " ", split);
  }
  if (verbose) {
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "pre-flight: %s shards (%s) match the SHA-256 in %s (%.2f s)\n",
                 counts.c_str(), human_bytes(static_cast<double>(bytes)).c_str(), manifest.c_str(),
                 s);
  }
}

}  // namespace

void preflight(const config::PipelineConfig& p, size_t first, size_t last, bool verbose) {
  check_device(p);
  const data::Manifest m = data::Manifest::read(p.data.manifest);

  // The stages that will run (a stage whose done.json matches is skipped).
  std::vector<size_t> pending;
  bool needs_teacher_folder = false, needs_tokenizer_file = false;
  for (size_t i = first; i < last && i < p.stages.size(); ++i) {
    StageContext ctx;
    ctx.pipeline = &p;
    ctx.index = i;
    if (read_done(ctx)) continue;
    pending.push_back(i);
    const auto kind = p.stages[i].kind;
    needs_teacher_folder |= kind != StageKind::kPretrain && !p.teacher.path.empty();
    needs_tokenizer_file |=
        kind == StageKind::kSelection || (p.quality_gate.enabled && p.stages[i].is_training());
  }

  const auto teacher = pending.empty() ? std::nullopt : teacher_config(p);
  if (teacher) {
    HALO_CHECK(m.vocab_size <= teacher->config.vocab_size, p.data.manifest,
               ": the data was prepared with a tokenizer of ", m.vocab_size, " ids (",
               m.tokenizer_path, "), but the teacher's vocab_size is ", teacher->config.vocab_size,
               " (", teacher->source, "): ids from ", teacher->config.vocab_size,
               " up would index past its embedding. HINT: prepare the data with the teacher's "
               "tokenizer, or give the model config a vocab_size of at least ",
               m.vocab_size, ".");
    if (needs_teacher_folder) check_teacher_weights(p, teacher->config);
  }
  if (needs_tokenizer_file) {
    HALO_CHECK(fs::exists(m.tokenizer_path), p.data.manifest, ": the tokenizer it was prepared ",
               "with (", m.tokenizer_path, ") is gone; ",
               "the quality gate and the selection stage read their recall prompts with it. HINT: "
               "restore it (or prepare the data again with a tokenizer that is there).");
    const auto tok = data::load_tokenizer(m.tokenizer_path);
    HALO_CHECK(tok->identity() == m.tokenizer_identity, m.tokenizer_path, ": is ", tok->identity(),
               " but the data was prepared with ", m.tokenizer_identity, " (", p.data.manifest,
               ")");
    if (teacher) {
      HALO_CHECK(tok->vocab_size() <= teacher->config.vocab_size, m.tokenizer_path, ": ",
                 tok->vocab_size(), " ids, more than the teacher's vocab_size ",
                 teacher->config.vocab_size, " (", teacher->source, ")");
    }
  }
  if (verbose && teacher) {
    std::fprintf(stderr, "pre-flight: teacher %s (vocab_size %lld) fits the data's %lld ids%s\n",
                 teacher->source.c_str(), static_cast<long long>(teacher->config.vocab_size),
                 static_cast<long long>(m.vocab_size),
                 needs_teacher_folder ? ", weights readable" : "");
  }
  if (verbose && teacher && !teacher->config.tie_word_embeddings) {
    // Issue 18 item 4: what a student stage does with an untied teacher head.
    std::fprintf(
        stderr, "pre-flight: the teacher's LM head is untied; student.lm_head: %s: %s\n",
        p.student.lm_head.c_str(),
        p.student.lm_head == "tied"
            ? "the student's head is its input embedding and the teacher's lm_head.weight "
              "is not used (the authors' HypeNet-9B from Qwen3-8B)"
            : "the student's head is untied, initialised from the teacher's lm_head.weight");
  }
  check_disk(p, pending, teacher, verbose);
  check_shards(p, m, verbose);
}

}  // namespace halo::stages
