// StageConfig: parsing by kind, validation of shapes, losses and the curriculum.
#include "halo/config/stage_config.h"

#include "common/error.h"

#include <algorithm>
#include <filesystem>

namespace halo::config {

std::string stage_kind_name(StageKind kind) {
  switch (kind) {
    case StageKind::kPretrain:
      return "pretrain";
    case StageKind::kStage1:
      return "stage1";
    case StageKind::kSelection:
      return "selection";
    case StageKind::kStage2:
      return "stage2";
    case StageKind::kStage3:
      return "stage3";
  }
  return "?";
}

std::string precision_name(Precision precision) {
  return enum_name(precision, kPrecisions);
}

Precision parse_precision(const std::string& name, const std::string& what) {
  return parse_enum<Precision>(name, kPrecisions, what);
}

namespace {

StageKind parse_kind(MapReader& r) {
  std::string k = r.get_choice("kind", "", {"pretrain", "stage1", "selection", "stage2", "stage3"});
  for (auto kind : {StageKind::kPretrain, StageKind::kStage1, StageKind::kSelection,
                    StageKind::kStage2, StageKind::kStage3}) {
    if (stage_kind_name(kind) == k) return kind;
  }
  r.fail("kind", "unknown stage kind");
}

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

const std::vector<std::string> kRecallTasks = {"niah", "niah-multikey", "niah-multivalue",
                                               "passkey", "kv"};

SelectionConfig parse_selection(MapReader& r, const std::string& base_dir) {
  SelectionConfig s;
  s.method = r.get_choice("method", s.method, {"entropy", "halo", "kl", "uniform", "manual"});
  s.num_attention_layers = r.get_int("num_attention_layers", s.num_attention_layers);
  r.check(s.num_attention_layers >= 0, "num_attention_layers", "must be >= 0");
  s.attention_layers = r.get_int_list("attention_layers", {});
  if (s.method == "manual") {
    r.check(r.has("attention_layers"), "attention_layers",
            "method manual needs the list of layers kept as attention");
    r.check(static_cast<int64_t>(s.attention_layers.size()) == s.num_attention_layers ||
                !r.has("num_attention_layers"),
            "num_attention_layers", "differs from the length of attention_layers");
    s.num_attention_layers = static_cast<int64_t>(s.attention_layers.size());
  } else {
    r.check(s.attention_layers.empty(), "attention_layers",
            "only method manual takes a list of layers. HINT: set method: manual");
  }
  for (size_t i = 0; i < s.attention_layers.size(); ++i) {
    r.check(s.attention_layers[i] >= 0, "attention_layers", "layer indices must be >= 0");
  }
  s.batches = r.get_int("batches", s.batches);
  r.check(s.batches >= 1, "batches", "must be >= 1");
  s.seq_len = r.get_int("seq_len", s.seq_len);
  r.check(s.seq_len >= 2, "seq_len", "must be >= 2");
  s.batch_size = r.get_int("batch_size", s.batch_size);
  r.check(s.batch_size >= 1, "batch_size", "must be >= 1");
  s.report_all_scores = r.get_bool("report_all_scores", s.report_all_scores);
  s.recall_samples = r.get_int("recall_samples", s.recall_samples);
  r.check(s.recall_samples >= 1, "recall_samples", "must be >= 1");
  s.recall_tasks = r.get_string("recall_tasks", s.recall_tasks);
  std::vector<std::string> seen;
  for (size_t begin = 0; begin <= s.recall_tasks.size();) {
    const size_t end = std::min(s.recall_tasks.find(',', begin), s.recall_tasks.size());
    const auto task = s.recall_tasks.substr(begin, end - begin);
    r.check(std::find(kRecallTasks.begin(), kRecallTasks.end(), task) != kRecallTasks.end(),
            "recall_tasks",
            str_cat("'", task, "' is not a recall task; give a comma list of niah, niah-multikey, ",
                    "niah-multivalue, passkey, kv (e.g. \"niah,passkey,kv\")"));
    r.check(std::find(seen.begin(), seen.end(), task) == seen.end(), "recall_tasks",
            str_cat("'", task, "' is listed twice"));
    seen.push_back(task);
    begin = end + 1;
  }
  s.recall_lengths = r.get_int_list("recall_lengths", s.recall_lengths);
  r.check(!s.recall_lengths.empty(), "recall_lengths",
          "needs at least one prompt length (e.g. [4096, 16384])");
  for (auto length : s.recall_lengths) {
    r.check(length >= 2, "recall_lengths", str_cat("length ", length, " must be >= 2 tokens"));
  }
  s.recall_depths = r.get_double_list("recall_depths", s.recall_depths);
  r.check(!s.recall_depths.empty(), "recall_depths", "needs at least one depth in [0, 1]");
  for (double d : s.recall_depths) {
    r.check(d >= 0.0 && d <= 1.0, "recall_depths", str_cat("depth ", d, " is outside [0, 1]"));
  }
  s.commonsense_mc = resolve(base_dir, r.get_string("commonsense_mc", ""));
  r.check(s.commonsense_mc.empty() || std::filesystem::is_regular_file(s.commonsense_mc),
          "commonsense_mc",
          str_cat("file not found: ", s.commonsense_mc,
                  " (an mc JSONL file, docs/eval.md; relative paths start at the pipeline "
                  "file's folder)"));
  return s;
}

}  // namespace

std::pair<int64_t, int64_t> StageConfig::shape_at(int64_t step) const {
  if (curriculum.empty()) return {seq_len, batch_size};
  const int64_t tokens = seq_len * batch_size;
  int64_t t = curriculum.front().seq_len;
  for (const auto& p : curriculum) {
    if (p.from_step <= step) t = p.seq_len;
  }
  return {t, tokens / t};
}

StageConfig StageConfig::from_yaml(MapReader r, const std::string& base_dir) {
  StageConfig c;
  c.name = r.require_string("name");
  r.check(!c.name.empty() && c.name.find('/') == std::string::npos && c.name[0] != '.', "name",
          "must be a non-empty folder name without '/'");
  r.check(r.has("kind"), "kind",
          "required key is missing (pretrain | stage1 | selection | stage2 | stage3)");
  c.kind = parse_kind(r);
  c.seed = static_cast<uint64_t>(r.get_int("seed", 0));
  if (c.kind == StageKind::kSelection) {
    c.selection = parse_selection(r, base_dir);
    r.finish();
    return c;
  }
  const bool has_steps = r.has("steps"), has_tokens = r.has("tokens");
  r.check(has_steps != has_tokens, has_steps ? "tokens" : "steps",
          "give exactly one of steps (optimizer steps) or tokens (a token budget)");
  c.seq_len = r.get_int("seq_len", 0);
  c.batch_size = r.require_int("batch_size");
  r.check(c.batch_size >= 1, "batch_size", "must be >= 1");
  c.grad_accum = r.get_int("grad_accum", c.grad_accum);
  r.check(c.grad_accum >= 1, "grad_accum", "must be >= 1");

  auto points = r.map_list("curriculum", false);
  r.check(points.empty() || c.kind == StageKind::kPretrain || c.kind == StageKind::kStage3,
          "curriculum", "a length curriculum applies to cross-entropy stages (pretrain, stage3)");
  for (auto& p : points) {
    CurriculumPoint cp;
    cp.from_step = p.require_int("from_step");
    cp.seq_len = p.require_int("seq_len");
    p.check(cp.seq_len >= 2, "seq_len", "must be >= 2");
    p.check(c.curriculum.empty() ? cp.from_step == 0 : cp.from_step > c.curriculum.back().from_step,
            "from_step",
            c.curriculum.empty() ? "the first curriculum point must start at step 0"
                                 : "from_step must increase from one point to the next");
    p.finish();
    c.curriculum.push_back(cp);
  }
  if (!c.curriculum.empty()) {
    if (!r.has("seq_len")) c.seq_len = c.curriculum.front().seq_len;
    r.check(c.seq_len == c.curriculum.front().seq_len, "seq_len",
            "must equal the first curriculum point's seq_len (or be left out)");
    const int64_t tokens = c.seq_len * c.batch_size;
    for (size_t i = 0; i < c.curriculum.size(); ++i) {
      r.check(tokens % c.curriculum[i].seq_len == 0, "curriculum",
              str_cat("tokens per micro-batch (batch_size x seq_len = ", tokens,
                      ") must be divisible by curriculum[", i, "].seq_len = ",
                      c.curriculum[i].seq_len, " so every step trains on the same token count"));
    }
  }
  r.check(c.seq_len >= 2, "seq_len", "required, >= 2 (tokens per training sequence)");

  if (has_steps) {
    c.steps = r.require_int("steps");
    r.check(c.steps >= 1, "steps", "must be >= 1");
  } else {
    c.tokens = r.require_int("tokens");
    r.check(c.tokens >= c.tokens_per_step(), "tokens",
            str_cat("budget smaller than one step (", c.tokens_per_step(), " tokens)"));
    c.steps = (c.tokens + c.tokens_per_step() - 1) / c.tokens_per_step();
  }
  for (size_t i = 1; i < c.curriculum.size(); ++i) {
    r.check(c.curriculum[i].from_step < c.steps, "curriculum",
            str_cat("curriculum[", i, "].from_step = ", c.curriculum[i].from_step,
                    " is past the last step (", c.steps, ")"));
  }

  std::string loss;
  switch (c.kind) {
    case StageKind::kStage1:
      loss = r.get_choice("loss", "mse", {"mse", "l2norm"});
      break;
    case StageKind::kStage2:
      loss = r.get_choice("loss", "kl", {"kl"});
      break;
    default:
      loss = r.get_choice("loss", "ce", {"ce"});
  }
  c.loss = parse_enum<Loss>(loss, kLosses, r.key_path("loss"));
  c.loss_chunk_tokens = r.get_int("loss_chunk_tokens", c.loss_chunk_tokens);
  r.check(c.loss_chunk_tokens >= 1, "loss_chunk_tokens", "must be >= 1");
  c.clip_grad_norm = r.get_double("clip_grad_norm", c.clip_grad_norm);
  r.check(c.clip_grad_norm >= 0, "clip_grad_norm", "must be >= 0 (0 = no clipping)");
  c.precision = parse_precision(r.get_choice("precision", "float32", kPrecisions), "precision");
  c.activation_checkpointing = r.get_bool("activation_checkpointing", false);
  c.log_every = r.get_int("log_every", c.log_every);
  r.check(c.log_every >= 1, "log_every", "must be >= 1");
  if (c.kind == StageKind::kPretrain) {
    c.model_config = resolve(base_dir, r.require_string("model_config"));
    r.check(std::filesystem::exists(c.model_config), "model_config",
            str_cat("file not found: ", c.model_config,
                    " (relative paths start at the pipeline file's folder)"));
  }
  c.optimizer = OptimizerConfig::from_yaml(r.map("optimizer"));
  c.schedule = ScheduleConfig::from_yaml(r.map("schedule"));
  c.checkpoint = CheckpointConfig::from_yaml(r.map("checkpoint"));
  c.eval = EvalConfig::from_yaml(r.map("eval"));
  {
    MapReader s = r.map("schedule");
    s.has("warmup_steps");
    s.check(c.schedule.warmup_steps < c.steps || c.schedule.warmup_steps == 0, "warmup_steps",
            str_cat("warmup (", c.schedule.warmup_steps, " steps) must be shorter than the stage (",
                    c.steps, " steps)"));
    s.has("min_lr");
    s.check(c.schedule.min_lr <= c.optimizer.lr, "min_lr",
            str_cat("min_lr ", c.schedule.min_lr, " exceeds optimizer.lr ", c.optimizer.lr));
  }
  r.finish();
  return c;
}

nlohmann::json StageConfig::to_json() const {
  nlohmann::json j = {{"name", name}, {"kind", stage_kind_name(kind)}, {"seed", seed}};
  if (kind == StageKind::kSelection) {
    j["method"] = selection.method;
    j["num_attention_layers"] = selection.num_attention_layers;
    j["attention_layers"] = selection.attention_layers;
    j["batches"] = selection.batches;
    j["seq_len"] = selection.seq_len;
    j["batch_size"] = selection.batch_size;
    j["report_all_scores"] = selection.report_all_scores;
    j["recall_samples"] = selection.recall_samples;
    // The recall and commonsense keys (issue 17 item 2) only where they decide a score, so the
    // hashes of earlier runs of manual / uniform / entropy / kl selections stay valid.
    if (selection.method == "halo" || selection.report_all_scores) {
      j["recall_tasks"] = selection.recall_tasks;
      j["recall_lengths"] = selection.recall_lengths;
      j["recall_depths"] = selection.recall_depths;
      if (!selection.commonsense_mc.empty()) j["commonsense_mc"] = selection.commonsense_mc;
    }
    return j;
  }
  j["steps"] = steps;
  if (tokens > 0) j["tokens"] = tokens;
  j["seq_len"] = seq_len;
  j["batch_size"] = batch_size;
  j["grad_accum"] = grad_accum;
  if (!curriculum.empty()) {
    nlohmann::json cj = nlohmann::json::array();
    for (const auto& p : curriculum)
      cj.push_back({{"from_step", p.from_step}, {"seq_len", p.seq_len}});
    j["curriculum"] = cj;
  }
  j["loss"] = loss_name(loss);
  if (kind != StageKind::kStage1) j["loss_chunk_tokens"] = loss_chunk_tokens;
  j["clip_grad_norm"] = clip_grad_norm;
  j["precision"] = precision_name(precision);  // in the stage hash: a resume keeps its precision
  j["activation_checkpointing"] = activation_checkpointing;
  if (!model_config.empty()) j["model_config"] = model_config;
  if (!model_config_id.empty()) j["model_config_id"] = model_config_id;
  j["optimizer"] = optimizer.to_json();
  j["schedule"] = schedule.to_json();
  j["checkpoint"] = checkpoint.to_json();
  j["eval"] = eval.to_json();
  return j;
}

}  // namespace halo::config
