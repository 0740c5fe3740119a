// `halo-distill eval`: long-context and quality evaluation of one or more models side by side on
// the same prompts (halo/eval/eval_suite.h): NIAH grids (single, multi-key, multi-value), passkey
// and key-value retrieval, loss by position, multiple choice from JSONL. Writes results.json,
// results.md and pictures (NIAH heatmaps, the loss-by-position chart) into --out. Every input is
// checked (models, tokenizer, text, tasks against the lengths) before the first model loads.
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/model_folder_files.h"
#include "data/packed_loader.h"
#include "data/shard_manifest.h"
#include "data/tokenizer.h"
#include "halo/eval/eval_charts.h"
#include "halo/eval/eval_results.h"
#include "halo/eval/eval_suite.h"
#include "halo/eval/retrieval_prompts.h"
#include "halo/eval/task_model.h"
#include "hypenet/causal_lm.h"
#include "hypenet/hypenet_config.h"
#include "hypenet/module_io.h"
#include "hypenet/qwen3_checkpoint.h"
#include "tools/commands.h"
#include "tools/device_arg.h"
#include "tools/size_arg.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace halo::tools {

namespace {

namespace fs = std::filesystem;

// Validation tokens read from --data: the haystacks and windows are cut from them.
constexpr int64_t kValidationTokens = int64_t(1) << 22;

struct EvalArgs {
  std::vector<std::string> models;
  std::string tasks, lengths, depths = "0,0.25,0.5,0.75,1", out = "eval-out";
  std::string tokenizer, text, data, device = "cpu", dtype = "auto";
  int64_t trials = 4, batch_size = 8, prefill_chunk = 2048;
  int64_t kv_pairs = 4, niah_keys = 4, niah_values = 4;
  std::string ppl_length;
  int64_t ppl_buckets = 16, ppl_sequences = 4, train_length = 0;
  uint64_t seed = 0;
};

std::vector<double> parse_depths(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t pos = 0;
    double v = -1.0;
    try {
      v = std::stod(item, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    HALO_CHECK(!item.empty() && pos == item.size() && v >= 0.0 && v <= 1.0, "--depths: \"", item,
               "\" is not a depth in [0, 1] (e.g. --depths 0,0.25,0.5,0.75,1)");
    out.push_back(v);
  }
  HALO_CHECK(!out.empty(), "--depths: nothing given");
  return out;
}

// The model folders exist, have a config.json and a known model_type; returns the vocabularies.
std::vector<int64_t> check_model_folders(const std::vector<std::string>& models) {
  std::vector<int64_t> vocab;
  for (const auto& dir : models) {
    HALO_CHECK(fs::is_directory(dir), "--model ", dir, ": no such folder");
    HALO_CHECK(fs::exists(fs::path(dir) / "config.json"), "--model ", dir,
               ": not a model folder (no config.json). HINT: give a folder written by "
               "init-teacher, convert or export, or a Hugging Face Qwen3 folder");
    const std::string config = dir + "/config.json";
    vocab.push_back(hypenet::read_model_type(dir) == "hypenet"
                        ? hypenet::HypeNetConfig::from_json_file(config).base.vocab_size
                        : hypenet::Qwen3Config::from_json_file(config).vocab_size);
  }
  return vocab;
}

// Texts of --text: a .jsonl file's "text" fields (one object per line), else the whole file.
std::vector<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HALO_CHECK(in.good(), "--text ", path, ": cannot open the file");
  std::vector<std::string> texts;
  if (fs::path(path).extension() != ".jsonl") {
    std::stringstream ss;
    ss << in.rdbuf();
    texts.push_back(ss.str());
  } else {
    std::string line;
    for (int64_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      HALO_CHECK(!j.is_discarded() && j.is_object() && j.contains("text") && j["text"].is_string(),
                 path, ":", n, ": expected a JSON object with a \"text\" string");
      texts.push_back(j["text"].get<std::string>());
    }
  }
  HALO_CHECK(!texts.empty() && !texts.front().empty(), "--text ", path, ": no text in the file");
  return texts;
}

// Validation token ids of a prepared shard folder (--data DIR or DIR/manifest.json): up to
// `want` tokens from the start of the validation split, in manifest order.
std::vector<int64_t> read_validation_tokens(const fs::path& manifest_path, int64_t want,
                                            const data::Tokenizer& tokenizer) {
  const auto manifest = data::Manifest::read(manifest_path);
  const auto& split = manifest.split("validation", manifest_path.string());
  HALO_CHECK(split.tokens > 0, manifest_path.string(),
             ": the validation split has no tokens. HINT: prepare with a validation fraction");
  data::LoaderOptions lo;
  lo.manifest = manifest_path;
  lo.split = "validation";
  lo.seq_len = 8192;
  lo.global_batch = 1;
  lo.shuffle = false;
  lo.prefetch = 0;
  data::PackedLoader loader(lo);
  // Documents plus their separators, read once (the loader would start a second epoch).
  const int64_t available = split.tokens + split.documents;
  const int64_t take = std::min(want, available);
  std::vector<at::Tensor> ids;
  for (int64_t i = 0; i < (take + lo.seq_len - 1) / lo.seq_len; ++i) {
    ids.push_back(loader.next().input_ids.reshape({-1}));
  }
  return eval::filler_from_token_ids(at::cat(ids, 0).narrow(0, 0, take), tokenizer.special_ids());
}

std::string iso_time_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void run_eval(const EvalArgs& a) {
  // 1. Everything checked before a model loads: folders, tokenizer, text, tasks.
  const auto vocab = check_model_folders(a.models);
  const auto names = eval::unique_model_names(a.models);
  auto tasks = eval::parse_eval_tasks(a.tasks);
  HALO_CHECK(a.text.empty() || a.data.empty(), "give one of --text and --data, not both");
  fs::path manifest;
  if (!a.data.empty()) {
    manifest = fs::is_directory(a.data) ? fs::path(a.data) / "manifest.json" : fs::path(a.data);
    HALO_CHECK(fs::exists(manifest), "--data ", a.data,
               ": no manifest.json. HINT: a folder written by halo-distill prepare");
  }
  const bool needs_text =
      std::any_of(tasks.begin(), tasks.end(), [](const auto& t) { return t.kind != "mc"; });
  HALO_CHECK(!needs_text || !a.text.empty() || !manifest.empty(),
             "the tasks need validation text for haystacks and windows: give --text FILE "
             "(.txt, or .jsonl with a \"text\" field per line) or --data DIR (prepared shards)");
  std::string tok_path = a.tokenizer;
  if (tok_path.empty() && !manifest.empty()) {
    tok_path = data::Manifest::read(manifest).tokenizer_path;
  }
  if (tok_path.empty()) tok_path = halo::find_model_tokenizer(a.models.front());
  HALO_CHECK(!tok_path.empty(), a.models.front(),
             " has no tokenizer.json or tokenizer.model; give --tokenizer PATH");
  auto tokenizer = data::load_tokenizer(tok_path);
  if (!manifest.empty()) {
    const auto m = data::Manifest::read(manifest);
    HALO_CHECK(tokenizer->identity() == m.tokenizer_identity, tok_path, ": not the tokenizer ",
               manifest.string(),
               " was prepared with (its token ids would be read as another tokenizer's). HINT: "
               "leave out --tokenizer to use the manifest's (",
               m.tokenizer_path, ")");
  }
  for (size_t i = 0; i < a.models.size(); ++i) {
    HALO_CHECK(tokenizer->vocab_size() <= vocab[i], tok_path, ": the tokenizer has ",
               tokenizer->vocab_size(), " ids but ", a.models[i], "/config.json has vocab_size ",
               vocab[i], "; this tokenizer does not belong to this model");
  }

  eval::EvalSettings s;
  if (!a.lengths.empty()) s.lengths = parse_count_list(a.lengths, "--lengths");
  s.depths = parse_depths(a.depths);
  s.trials = a.trials;
  s.seed = a.seed;
  s.kv_pairs = a.kv_pairs;
  s.niah_keys = a.niah_keys;
  s.niah_values = a.niah_values;
  s.ppl_buckets = a.ppl_buckets;
  s.ppl_sequences = a.ppl_sequences;
  s.batch_size = a.batch_size;
  if (a.train_length > 0) s.train_length = a.train_length;
  if (!a.ppl_length.empty()) {
    const auto v = parse_count_list(a.ppl_length, "--ppl-length");
    HALO_CHECK(v.size() == 1, "--ppl-length: give one length");
    s.ppl_length = v[0];
  } else if (s.train_length) {
    s.ppl_length = 4 * *s.train_length;
  } else if (!s.lengths.empty()) {
    s.ppl_length = *std::max_element(s.lengths.begin(), s.lengths.end());
  }
  const bool has_ppl = std::any_of(tasks.begin(), tasks.end(),
                                   [](const auto& t) { return t.kind == "ppl-by-position"; });
  HALO_CHECK(!has_ppl || s.ppl_length > 0,
             "ppl-by-position needs a window length: --ppl-length, --train-length or --lengths");
  std::vector<int64_t> filler;
  if (!a.text.empty()) {
    filler = eval::filler_from_texts(*tokenizer, read_text_file(a.text));
  } else if (!manifest.empty()) {
    // A fixed amount, so that a window or haystack does not depend on the other tasks' lengths.
    int64_t longest = s.ppl_length;
    for (auto l : s.lengths) longest = std::max(longest, l);
    filler =
        read_validation_tokens(manifest, std::max<int64_t>(kValidationTokens, longest), *tokenizer);
  }
  auto warn = [](const std::string& w) { std::fprintf(stderr, "[eval] warning: %s\n", w.c_str()); };
  eval::EvalSuite suite(std::move(tasks), s, *tokenizer, filler, warn);

  // 2. One model at a time, the same prompts for each.
  const auto device = parse_device(a.device);
  const auto dtype = hypenet::parse_dtype(
      a.dtype == "auto" ? (device.is_cuda() ? "bfloat16" : "float32") : a.dtype, "--dtype");
  std::vector<std::pair<std::string, std::string>> refs;
  for (size_t i = 0; i < a.models.size(); ++i) {
    refs.emplace_back(names[i], fs::absolute(a.models[i]).lexically_normal().string());
  }
  auto results = suite.empty_results(refs, iso_time_now());
  fs::create_directories(a.out);
  for (size_t i = 0; i < a.models.size(); ++i) {
    std::fprintf(stderr, "[eval] %s: loading %s\n", names[i].c_str(), a.models[i].c_str());
    auto model = hypenet::load_causal_lm(a.models[i], dtype, device);
    eval::LmTaskOptions lo;
    lo.batch_size = a.batch_size;
    lo.prefill_chunk = a.prefill_chunk;
    eval::LmTaskModel task_model(model, lo);
    const auto start = std::chrono::steady_clock::now();
    suite.run_model(task_model, names[i], results, [&](const std::string& line) {
      const double sec =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "[eval] %s (%.1f s)\n", line.c_str(), sec);
    });
  }

  // 3. Outputs.
  const auto json_path = (fs::path(a.out) / "results.json").string();
  const auto md_path = (fs::path(a.out) / "results.md").string();
  write_text_atomically(json_path, results.dump(2) + "\n");
  write_text_atomically(md_path, eval::eval_results_markdown(results));
  const auto charts = eval::write_eval_charts(results, a.out);
  std::fprintf(stderr, "[eval] wrote %s, %s and %zu pictures in %s\n", json_path.c_str(),
               md_path.c_str(), charts.size(), a.out.c_str());
  bool png = false;
  for (const auto& c : charts) png = png || c.extension() == ".png";
  if (!png && !charts.empty()) {
    std::fprintf(stderr, "[eval] SVG only: rsvg-convert (Debian: librsvg2-bin) makes PNG copies\n");
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand(
      "eval",
      "Evaluate one or more models side by side on the same prompts: needle in a haystack over "
      "a length x depth grid (niah, niah-multikey, niah-multivalue as in RULER), passkey and kv "
      "retrieval (the quality gate's tasks) at any length, ppl-by-position (mean loss per "
      "position bucket, the length-extrapolation curve) and multiple choice scored by "
      "log-likelihood (mc:FILE.jsonl, one {\"context\", \"choices\", \"label\"} per line). "
      "Decoding runs on the generation engine (chunked prefill, cached decode). Writes "
      "results.json, results.md and pictures to --out (docs/eval.md).\n"
      "Example: halo-distill eval --model teacher --model student --tasks "
      "niah,passkey,ppl-by-position,mc:configs/eval/mc_sample.jsonl --lengths 2K,8K --depths "
      "0,0.5,1 --trials 4 --text valid.txt --out eval-out");
  cmd->add_option("--model", a->models,
                  "Model folder (repeatable; named by its folder name in the results)")
      ->required();
  cmd->add_option("--tasks", a->tasks,
                  "Comma list of niah, niah-multikey, niah-multivalue, passkey, kv, "
                  "ppl-by-position, mc:FILE.jsonl (e.g. niah,kv,mc:configs/eval/mc_sample.jsonl)")
      ->required();
  cmd->add_option("--lengths", a->lengths,
                  "Prompt lengths in tokens for niah*, passkey and kv (K = 1024), e.g. 2K,8K,32K");
  cmd->add_option("--depths", a->depths,
                  "Needle depths in [0, 1] for niah* (0 = start of the text), e.g. 0,0.5,1")
      ->capture_default_str();
  cmd->add_option("--trials", a->trials,
                  "Prompts per (length, depth) cell for niah*, per length for passkey and kv")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed,
                  "Fixes every prompt and window; each cell has its own seed, so adding lengths "
                  "or depths leaves the others' prompts unchanged")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Output folder: results.json, results.md, *.svg (and *.png)")
      ->capture_default_str();
  cmd->add_option("--text", a->text,
                  "Validation text for haystacks and windows: a .txt file, or .jsonl with a "
                  "\"text\" string per line (e.g. --text valid.jsonl)");
  cmd->add_option("--data", a->data,
                  "Validation text from a prepared shard folder (halo-distill prepare's --out, "
                  "or its manifest.json): the start of its validation split");
  cmd->add_option("--tokenizer", a->tokenizer,
                  "tokenizer.json or tokenizer.model (default: the --data manifest's, else the "
                  "one in the first --model)");
  cmd->add_option("--device", a->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16")
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "Prompts decoded together (engine cache rows)")
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", a->prefill_chunk,
                  "Prompt tokens per forward when decoding and scoring (bounds activation memory)")
      ->capture_default_str();
  cmd->add_option("--kv-pairs", a->kv_pairs, "kv: key-value pairs in each haystack")
      ->capture_default_str();
  cmd->add_option("--niah-keys", a->niah_keys, "niah-multikey: keys in each haystack (>= 2)")
      ->capture_default_str();
  cmd->add_option("--niah-values", a->niah_values,
                  "niah-multivalue: values of the asked key (>= 2)")
      ->capture_default_str();
  cmd->add_option("--ppl-length", a->ppl_length,
                  "ppl-by-position: tokens per window, e.g. 16K (default: 4 x --train-length, "
                  "else the largest --lengths)");
  cmd->add_option("--ppl-buckets", a->ppl_buckets, "ppl-by-position: equal-width position buckets")
      ->capture_default_str();
  cmd->add_option("--ppl-sequences", a->ppl_sequences, "ppl-by-position: windows scored")
      ->capture_default_str();
  cmd->add_option("--train-length", a->train_length,
                  "The models' training length: marked in the loss chart, and 4x it is the "
                  "default --ppl-length (0 = unknown)")
      ->capture_default_str();
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace halo::tools
