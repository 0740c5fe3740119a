// Parsing of the pipeline YAML, overrides, cross-stage validation and per-stage hashes.
#include "halo/config/pipeline_config.h"

#include "common/error.h"
#include "common/json_limits.h"
#include "halo/config/config_overrides.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <set>

namespace halo::config {

namespace fs = std::filesystem;

std::string fnv1a_hex(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

// "64, 256" (or "none").
std::string join_ints(const std::vector<int64_t>& values) {
  std::string out;
  for (auto v : values) out += (out.empty() ? "" : ", ") + std::to_string(v);
  return out.empty() ? "none" : out;
}

// What a small JSON file says (its parsed tree, so formatting does not count; its bytes when it
// does not parse), as fnv1a_hex.
std::string file_content_id(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HALO_CHECK(in.good(), path, ": cannot be read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Too deep to parse safely (json_limits.h): its bytes, as for any text that does not parse.
  if (json_depth_violation(text.data(), text.data() + text.size()) >= 0) return fnv1a_hex(text);
  const auto j = nlohmann::json::parse(text, nullptr, false);
  return fnv1a_hex(j.is_discarded() ? text : j.dump());
}

}  // namespace

const StageConfig& PipelineConfig::stage(const std::string& name) const {
  int i = stage_index(name);
  if (i >= 0) return stages[i];
  std::set<std::string> names;
  std::string list;
  for (const auto& s : stages) names.insert(s.name), list += (list.empty() ? "" : ", ") + s.name;
  std::string near = nearest_key(name, names);
  HALO_FAIL(file, ": no stage named \"", name, "\" (stages: ", list, ")",
            near.empty() ? "" : str_cat(". HINT: did you mean \"", near, "\"?"));
}

int PipelineConfig::stage_index(const std::string& name) const {
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const StageConfig* PipelineConfig::first_of_kind(StageKind kind) const {
  for (const auto& s : stages) {
    if (s.kind == kind) return &s;
  }
  return nullptr;
}

nlohmann::json PipelineConfig::to_json() const {
  nlohmann::json j;
  j["run"] = {{"out_dir", run.out_dir},
              {"seed", run.seed},
              {"device", device_name(run.device)},
              {"threads", run.threads}};
  j["teacher"] = {{"path", teacher.path}};
  j["data"] = {{"manifest", data.manifest}, {"prefetch", data.prefetch}};
  if (!data.dataset_id.empty()) j["data"]["dataset_id"] = data.dataset_id;
  j["student"] = {
      {"lightning_scale", student.lightning_scale},
      {"lightning_use_qk_norm", student.lightning_use_qk_norm},
      {"lightning_use_output_norm", student.lightning_use_output_norm},
      {"lightning_use_output_gate", student.lightning_use_output_gate},
      {"expand_kv_proj", student.expand_kv_proj},
      {"attn_use_rope", student.attn_use_rope},
      {"attn_use_output_gate", student.attn_use_output_gate},
      {"attn_logits_scaling", student.attn_logits_scaling},
      {"init_seed", student.init_seed},
      {"lm_head", student.lm_head},
      {"lightning_recurrence", lightning_recurrence_name(student.lightning_recurrence)}};
  j["quality_gate"] = {{"enabled", quality_gate.enabled},
                       {"validation_batches", quality_gate.validation_batches},
                       {"seq_len", quality_gate.seq_len},
                       {"batch_size", quality_gate.batch_size},
                       {"passkey_lengths", quality_gate.passkey_lengths},
                       {"passkey_trials", quality_gate.passkey_trials},
                       {"key_value", quality_gate.key_value},
                       {"decode", quality_gate.decode},
                       {"prefill_chunk", quality_gate.prefill_chunk},
                       {"timeout_s", quality_gate.timeout_s}};
  if (const auto& t = quality_gate.thresholds; t.any()) {
    auto& jt = j["quality_gate"]["thresholds"];
    jt["stage"] = t.stage;
    if (t.max_loss_ratio) jt["max_loss_ratio"] = *t.max_loss_ratio;
    for (const auto& k : t.min_passkey_accuracy) {
      jt["min_passkey_accuracy"].push_back({{"length", k.length}, {"accuracy", k.accuracy}});
    }
  }
  j["dist"] = {{"backend", dist.backend},
               {"timeout_s", dist.timeout_s},
               {"init_timeout_s", dist.init_timeout_s},
               {"heartbeat_s", dist.heartbeat_s},
               {"bucket_mb", dist.bucket_mb},
               {"first_bucket_mb", dist.first_bucket_mb},
               {"zero1", dist.zero1}};
  j["stages"] = nlohmann::json::array();
  for (const auto& s : stages) j["stages"].push_back(s.to_json());
  return j;
}

nlohmann::json PipelineConfig::hashed_part(nlohmann::json j, size_t index) {
  HALO_CHECK(
      j.is_object() && j.contains("stages") && j["stages"].is_array() && index < j["stages"].size(),
      "stage index ", index, " out of range");
  j["stage_hash_format"] = kStageHashFormat;
  j["run"].erase("out_dir");
  j["run"].erase("threads");
  j["data"].erase("prefetch");
  // What the data is, not where it is (trees without the id: the path).
  if (j["data"].contains("dataset_id")) j["data"].erase("manifest");
  j.erase("quality_gate");
  j.erase("dist");  // a resume may use other timeouts, buckets or another world size
  nlohmann::json kept = nlohmann::json::array();
  for (size_t i = 0; i <= index; ++i) {
    nlohmann::json s = j["stages"][i];
    s.erase("checkpoint");
    if (s.contains("model_config_id")) s.erase("model_config");
    kept.push_back(s);
  }
  j["stages"] = kept;
  return j;
}

namespace {

// Format 1's hashed part (builds before issue 21): format 2's without the format number, and
// without two student keys at their defaults, left out when they were added so that the runs
// hashed before kept their hashes (lightning_recurrence float32, lm_head tied; a run with an
// untied teacher that resumes a student stage is refused when its checkpoint is loaded,
// student_builder.h).
nlohmann::json hashed_part_format1(const nlohmann::json& resolved, size_t index) {
  nlohmann::json j = PipelineConfig::hashed_part(resolved, index);
  j.erase("stage_hash_format");
  if (j["student"].value("lightning_recurrence", "float32") == "float32") {
    j["student"].erase("lightning_recurrence");
  }
  if (j["student"].value("lm_head", "tied") == "tied") j["student"].erase("lm_head");
  return j;
}

}  // namespace

std::string PipelineConfig::stage_hash(size_t index) const {
  return fnv1a_hex(hashed_part(to_json(), index).dump());
}

std::vector<std::string> PipelineConfig::earlier_stage_hashes(size_t index) const {
  nlohmann::json j = to_json();
  const std::string format1 = fnv1a_hex(hashed_part_format1(j, index).dump());
  // Format 0: before the content ids, the data and a pretrain stage's model config by path.
  j["data"].erase("dataset_id");
  for (auto& s : j["stages"]) s.erase("model_config_id");
  const std::string format0 = fnv1a_hex(hashed_part_format1(j, index).dump());
  return {format1, format0};
}

bool PipelineConfig::stage_hash_matches(size_t index, const std::string& recorded) const {
  if (recorded == stage_hash(index)) return true;
  const auto earlier = earlier_stage_hashes(index);
  return std::find(earlier.begin(), earlier.end(), recorded) != earlier.end();
}

namespace {

RunSection read_run(MapReader run, const std::string& base_dir) {
  RunSection out;
  out.out_dir = resolve(base_dir, run.require_string("out_dir"));
  out.seed = static_cast<uint64_t>(run.get_int("seed", 0));
  out.device = parse_enum<Device>(run.get_choice("device", device_name(out.device), kDevices),
                                  kDevices, run.key_path("device"));
  out.threads = run.get_int("threads", 0);
  run.check(out.threads >= 0, "threads", "must be >= 0 (0 = LibTorch's default)");
  run.finish();
  return out;
}

DataSection read_data(MapReader data, const std::string& base_dir) {
  DataSection out;
  out.manifest = resolve(base_dir, data.require_string("manifest"));
  out.prefetch = data.get_int("prefetch", out.prefetch);
  data.check(out.prefetch >= 0, "prefetch", "must be >= 0");
  data.finish();
  return out;
}

StudentSection read_student(MapReader st) {
  StudentSection s;
  s.lightning_scale =
      st.get_choice("lightning_scale", s.lightning_scale, {"1/sqrt(d)", "1/d", "1"});
  s.lightning_use_qk_norm = st.get_bool("lightning_use_qk_norm", s.lightning_use_qk_norm);
  s.lightning_use_output_norm =
      st.get_bool("lightning_use_output_norm", s.lightning_use_output_norm);
  s.lightning_use_output_gate =
      st.get_bool("lightning_use_output_gate", s.lightning_use_output_gate);
  s.expand_kv_proj = st.get_bool("expand_kv_proj", s.expand_kv_proj);
  s.attn_use_rope = st.get_bool("attn_use_rope", s.attn_use_rope);
  s.attn_use_output_gate = st.get_bool("attn_use_output_gate", s.attn_use_output_gate);
  s.attn_logits_scaling = st.get_double("attn_logits_scaling", 0);
  st.check(s.attn_logits_scaling == 0 || s.attn_logits_scaling > 1, "attn_logits_scaling",
           "must be 0 (off) or > 1 (the a of log(t + a) / log(a))");
  s.init_seed = static_cast<uint64_t>(st.get_int("init_seed", 0));
  s.lm_head = st.get_choice("lm_head", s.lm_head, kLmHeads);
  s.lightning_recurrence = parse_enum<LightningRecurrence>(
      st.get_choice("lightning_recurrence", lightning_recurrence_name(s.lightning_recurrence),
                    kLightningRecurrences),
      kLightningRecurrences, st.key_path("lightning_recurrence"));
  st.finish();
  return s;
}

// quality_gate.thresholds (qt) into g.thresholds; their stage is checked against the stages
// later (resolve_gated_stage). Returns whether the thresholds name a stage.
bool read_gate_thresholds(MapReader& qg, MapReader& qt, QualityGateSection& g) {
  auto& gt = g.thresholds;
  const bool stage_named = qt.has("stage");
  gt.stage = qt.get_string("stage", "");
  if (qt.has("max_loss_ratio")) {
    gt.max_loss_ratio = qt.get_double("max_loss_ratio", 0);
    qt.check(*gt.max_loss_ratio > 0, "max_loss_ratio",
             "must be > 0 (the student's validation loss / the teacher's, at most)");
  }
  auto passkey_readers = qt.map_list("min_passkey_accuracy", false);
  for (auto& pr : passkey_readers) {
    PasskeyThreshold k;
    k.length = pr.require_int("length");
    const auto& lengths = g.passkey_lengths;
    pr.check(std::find(lengths.begin(), lengths.end(), k.length) != lengths.end(), "length",
             str_cat("must be one of quality_gate.passkey_lengths [", join_ints(lengths),
                     "] (the lengths the gate measures)"));
    k.accuracy = pr.require_double("accuracy");
    pr.check(k.accuracy >= 0 && k.accuracy <= 1, "accuracy",
             "must be in [0, 1] (the passkey accuracy at that length, at least)");
    pr.finish();
    gt.min_passkey_accuracy.push_back(k);
  }
  qt.check(!stage_named || gt.any(), "stage",
           "names the gated stage, but no threshold is set (max_loss_ratio, "
           "min_passkey_accuracy)");
  qg.check(!gt.any() || g.enabled, "thresholds",
           "thresholds need quality_gate.enabled: true (a gate that does not run cannot stop "
           "the pipeline); remove the thresholds to run without the gate");
  qt.finish();
  return stage_named;
}

// The quality_gate section; *thresholds gets the reader of quality_gate.thresholds (its messages
// point there) and *stage_named whether they name the gated stage. An optional that is emplaced,
// not a MapReader that is assigned: assigning a YAML::Node writes into the node it refers to.
QualityGateSection read_quality_gate(MapReader qg, std::optional<MapReader>* thresholds,
                                     bool* stage_named) {
  QualityGateSection g;
  g.enabled = qg.get_bool("enabled", true);
  g.validation_batches = qg.get_int("validation_batches", 4);
  qg.check(g.validation_batches >= 1, "validation_batches", "must be >= 1");
  g.seq_len = qg.get_int("seq_len", g.seq_len);
  qg.check(g.seq_len >= 2, "seq_len", "must be >= 2");
  g.batch_size = qg.get_int("batch_size", g.batch_size);
  qg.check(g.batch_size >= 1, "batch_size", "must be >= 1");
  g.passkey_lengths = qg.get_int_list("passkey_lengths", {});
  for (auto len : g.passkey_lengths) {
    qg.check(len >= 16, "passkey_lengths", str_cat("length ", len, " is too short (>= 16)"));
  }
  g.passkey_trials = qg.get_int("passkey_trials", 8);
  qg.check(g.passkey_trials >= 1, "passkey_trials", "must be >= 1");
  g.key_value = qg.get_bool("key_value", g.key_value);
  g.decode = qg.get_choice("decode", g.decode, {"cached", "recompute"});
  g.prefill_chunk = qg.get_int("prefill_chunk", g.prefill_chunk);
  qg.check(g.prefill_chunk >= 1, "prefill_chunk", "must be >= 1 (tokens)");
  g.timeout_s = qg.get_double("timeout_s", g.timeout_s);
  qg.check(g.timeout_s > 0, "timeout_s",
           "must be > 0 (seconds the other ranks of a data-parallel run wait for rank 0's gate)");
  thresholds->emplace(qg.map("thresholds"));
  *stage_named = read_gate_thresholds(qg, **thresholds, g);
  qg.finish();
  return g;
}

// The same ranges as DistOptions::validate (dist_options.cpp), reported with file and line.
DistOptions read_dist(MapReader dr) {
  DistOptions d;
  d.backend = dr.get_choice("backend", d.backend, {"auto", "gloo", "nccl"});
  d.timeout_s = dr.get_double("timeout_s", d.timeout_s);
  dr.check(d.timeout_s > 0, "timeout_s", "must be > 0 (seconds a collective waits for its peers)");
  d.init_timeout_s = dr.get_double("init_timeout_s", d.init_timeout_s);
  dr.check(d.init_timeout_s > 0, "init_timeout_s", "must be > 0 (seconds for the rendezvous)");
  d.heartbeat_s = dr.get_double("heartbeat_s", d.heartbeat_s);
  dr.check(d.heartbeat_s > 0 && d.heartbeat_s * 3 < d.timeout_s, "heartbeat_s",
           str_cat("must be > 0 and less than a third of dist.timeout_s=", d.timeout_s,
                   " (a dead rank is recognised after 3 missed heartbeats)"));
  d.bucket_mb = dr.get_double("bucket_mb", d.bucket_mb);
  dr.check(d.bucket_mb > 0, "bucket_mb", "must be > 0 MiB");
  d.first_bucket_mb = dr.get_double("first_bucket_mb", d.first_bucket_mb);
  dr.check(d.first_bucket_mb > 0 && d.first_bucket_mb <= d.bucket_mb, "first_bucket_mb",
           str_cat("must be > 0 and at most dist.bucket_mb=", d.bucket_mb));
  d.zero1 = dr.get_bool("zero1", d.zero1);
  dr.finish();
  return d;
}

// The stages in YAML order into c.stages: unique names, kinds in pipeline order, each at most
// once; r is the root reader (its "stages" list).
void read_stages(MapReader& r, const std::string& base_dir, PipelineConfig& c) {
  auto stage_readers = r.map_list("stages", true);
  std::set<std::string> names;
  int last_kind = -1;
  for (auto& sr : stage_readers) {
    StageConfig sc = StageConfig::from_yaml(sr, base_dir);
    sr.check(names.insert(sc.name).second, "name",
             str_cat("stage name \"", sc.name, "\" is used twice; names must be unique"));
    const int k = static_cast<int>(sc.kind);
    sr.check(k > last_kind, "kind",
             str_cat("stage \"", sc.name, "\" (", stage_kind_name(sc.kind),
                     ") is out of order or repeated; the order is pretrain, stage1, selection, ",
                     "stage2, stage3, each at most once"));
    last_kind = k;
    if (sc.precision == Precision::kBFloat16) {
      sr.check(c.run.device == Device::kCuda, "precision",
               "bfloat16 training (float32 master weights) needs run.device: cuda. HINT: "
               "bfloat16-pure (bfloat16 weights and optimizer state) runs on any device");
    }
    if (!sc.model_config.empty()) sc.model_config_id = file_content_id(sc.model_config);
    c.stages.push_back(std::move(sc));
  }
}

// The rules between stages (each needs the one before it) and the teacher: teacher.path or a
// pretrain stage when stage 1 needs a teacher, not both; a given teacher.path has a config.json.
void check_stages_and_teacher(const PipelineConfig& c, const MapReader& stages_pos,
                              MapReader& teacher) {
  auto has_kind = [&](StageKind k) { return c.first_of_kind(k) != nullptr; };
  if (has_kind(StageKind::kSelection)) {
    stages_pos.check(has_kind(StageKind::kStage1), "stages",
                     "a selection stage needs a stage1 stage before it (its RNN layers)");
  }
  if (has_kind(StageKind::kStage2)) {
    stages_pos.check(has_kind(StageKind::kSelection), "stages",
                     "stage2 needs a selection stage before it (which layers stay attention)");
  }
  if (has_kind(StageKind::kStage3)) {
    stages_pos.check(has_kind(StageKind::kStage2), "stages",
                     "stage3 finetunes the stage-2 student: add a stage2 stage before it");
  }
  const bool needs_teacher = has_kind(StageKind::kStage1);
  const bool pretrains = has_kind(StageKind::kPretrain);
  if (needs_teacher) {
    teacher.has("path");
    teacher.check(pretrains != !c.teacher.path.empty(), "path",
                  pretrains ? "teacher.path is set but the pipeline also pretrains a teacher; "
                              "remove one of them"
                            : "required: the teacher's Hugging Face folder (or add a pretrain "
                              "stage)");
  }
  if (!c.teacher.path.empty()) {
    teacher.check(fs::exists(fs::path(c.teacher.path) / "config.json"), "path",
                  str_cat(c.teacher.path, "/config.json not found"));
  }
}

// With thresholds, the gated stage: a student (stage1, stage2 or stage3), the named one or by
// default the last one; qt is the thresholds' reader.
void resolve_gated_stage(PipelineConfig& c, const MapReader& qt, bool stage_named) {
  auto& gt = c.quality_gate.thresholds;
  if (!gt.any()) return;
  auto student = [](const StageConfig& s) {
    return s.kind == StageKind::kStage1 || s.kind == StageKind::kStage2 ||
           s.kind == StageKind::kStage3;
  };
  if (!stage_named) {
    for (const auto& s : c.stages) {
      if (student(s)) gt.stage = s.name;
    }
    qt.check(!gt.stage.empty(), "stage",
             "thresholds compare a student with its teacher, but the pipeline has no stage1, "
             "stage2 or stage3 stage");
  } else {
    const int i = c.stage_index(gt.stage);
    std::string names;
    for (const auto& s : c.stages) {
      if (student(s)) names += (names.empty() ? "" : ", ") + s.name;
    }
    qt.check(i >= 0 && student(c.stages[static_cast<size_t>(i)]), "stage",
             str_cat("\"", gt.stage, "\" is not a student stage of the pipeline; ",
                     "expected one of: ", names.empty() ? "(none)" : names));
  }
}

}  // namespace

PipelineConfig load_pipeline_config(const std::string& path,
                                    const std::vector<std::string>& overrides) {
  YAML::Node root = load_yaml_file(path);
  auto origins =
      std::make_shared<const std::vector<OverrideOrigin>>(apply_overrides(root, overrides));
  const std::string base_dir = fs::absolute(fs::path(path)).parent_path().string();

  PipelineConfig c;
  c.file = path;
  MapReader r(root, path, "", origins);
  // Unknown top-level sections first: a misspelt "stages:" should say so, not "stages missing".
  for (const char* section :
       {"run", "teacher", "data", "student", "quality_gate", "dist", "stages"}) {
    r.has(section);
  }
  r.finish();

  // The sections in file order; the teacher and thresholds readers stay for the checks against
  // the stages.
  c.run = read_run(r.map("run"), base_dir);
  MapReader teacher = r.map("teacher");
  c.teacher.path = resolve(base_dir, teacher.get_string("path", ""));
  teacher.finish();
  c.data = read_data(r.map("data"), base_dir);
  c.student = read_student(r.map("student"));
  std::optional<MapReader> thresholds;
  bool stage_named = false;
  c.quality_gate = read_quality_gate(r.map("quality_gate"), &thresholds, &stage_named);
  c.dist = read_dist(r.map("dist"));

  // Stages, then the rules between them.
  read_stages(r, base_dir, c);
  check_stages_and_teacher(c, r, teacher);
  resolve_gated_stage(c, *thresholds, stage_named);
  r.finish();
  return c;
}

}  // namespace halo::config
