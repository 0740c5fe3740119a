// Implementation of eval_suite.h.
#include "halo/eval/eval_suite.h"

#include "common/error.h"
#include "halo/eval/niah_task.h"
#include "halo/eval/position_loss.h"
#include "halo/eval/retrieval_eval.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace halo::eval {

namespace {

const std::vector<std::string>& known_kinds() {
  static const std::vector<std::string> kinds = {
      "niah", "niah-multikey", "niah-multivalue", "passkey", "kv", "ppl-by-position"};
  return kinds;
}

bool is_niah(const std::string& kind) {
  return kind == "niah" || kind == "niah-multikey" || kind == "niah-multivalue";
}

NiahOptions niah_options(const EvalTask& task, const EvalSettings& s) {
  NiahOptions o;
  o.variant = task.kind == "niah"            ? NiahVariant::kSingle
              : task.kind == "niah-multikey" ? NiahVariant::kMultiKey
                                             : NiahVariant::kMultiValue;
  o.lengths = s.lengths;
  o.depths = s.depths;
  o.trials = s.trials;
  o.seed = s.seed;
  o.num_keys = s.niah_keys;
  o.num_values = s.niah_values;
  return o;
}

RetrievalOptions retrieval_options(const EvalTask& task, const EvalSettings& s) {
  RetrievalOptions o;
  o.task = task.kind == "passkey" ? RetrievalTask::kPasskey : RetrievalTask::kKeyValue;
  o.context_lengths = s.lengths;
  o.samples_per_length = s.trials;
  o.seed = s.seed;
  o.batch_size = s.batch_size;
  o.num_kv_pairs = s.kv_pairs;
  return o;
}

PositionLossOptions position_options(const EvalSettings& s) {
  PositionLossOptions o;
  o.length = s.ppl_length;
  o.sequences = s.ppl_sequences;
  o.num_buckets = s.ppl_buckets;
  o.seed = s.seed;
  return o;
}

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f%%", 100.0 * x);
  return buf;
}

}  // namespace

std::vector<EvalTask> parse_eval_tasks(const std::string& list) {
  std::vector<EvalTask> tasks;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    HALO_CHECK(!item.empty(), "--tasks \"", list, "\": an empty task name (two commas?)");
    EvalTask t;
    if (item.rfind("mc:", 0) == 0) {
      HALO_CHECK(item.size() > 3,
                 "--tasks: 'mc:' needs a file, e.g. mc:configs/eval/mc_sample.jsonl");
      t.kind = "mc";
      t.file = item.substr(3);
      t.name = mc_task_name(t.file);
    } else {
      std::string known;
      for (const auto& k : known_kinds()) known += (known.empty() ? "" : ", ") + k;
      HALO_CHECK(std::find(known_kinds().begin(), known_kinds().end(), item) != known_kinds().end(),
                 "--tasks: unknown task '", item, "'; known tasks: ", known,
                 ", mc:FILE.jsonl (docs/eval.md)");
      t.kind = item;
      t.name = item;
    }
    for (const auto& other : tasks) {
      HALO_CHECK(other.name != t.name, "--tasks: task '", t.name,
                 "' is given twice (two mc files need different names)");
    }
    tasks.push_back(std::move(t));
  }
  HALO_CHECK(!tasks.empty(), "--tasks: no task given");
  return tasks;
}

EvalSuite::EvalSuite(std::vector<EvalTask> tasks, EvalSettings settings,
                     const data::Tokenizer& tokenizer, std::vector<int64_t> filler,
                     const std::function<void(const std::string&)>& warn)
    : tasks_(std::move(tasks)),
      settings_(std::move(settings)),
      tokenizer_(tokenizer),
      filler_(std::move(filler)) {
  const auto& s = settings_;
  HALO_CHECK(s.trials >= 1, "--trials must be >= 1, got ", s.trials);
  HALO_CHECK(s.batch_size >= 1, "--batch-size must be >= 1, got ", s.batch_size);
  const int64_t longest =
      s.lengths.empty() ? 0 : *std::max_element(s.lengths.begin(), s.lengths.end());
  for (auto& t : tasks_) {
    if (t.kind == "mc") {
      t.items = read_mc_file(t.file);
      continue;
    }
    HALO_CHECK(!filler_.empty(), t.name,
               ": the validation text has no tokens. HINT: --text FILE or --data DIR");
    if (t.kind == "ppl-by-position") {
      check_position_loss_options(position_options(s));
      if (warn && static_cast<int64_t>(filler_.size()) < s.ppl_length) {
        warn("ppl-by-position: the validation text has " + std::to_string(filler_.size()) +
             " tokens, fewer than a window of " + std::to_string(s.ppl_length) +
             ": windows repeat it, so later positions can copy and show a lower loss than on "
             "fresh text. HINT: give more validation text");
      }
      continue;
    }
    HALO_CHECK(!s.lengths.empty(), t.name, " needs --lengths (e.g. --lengths 2K,8K)");
    if (is_niah(t.kind)) {
      check_niah_options(niah_options(t, s), tokenizer_, filler_);
    } else {
      HALO_CHECK(s.kv_pairs >= 1, "--kv-pairs must be >= 1, got ", s.kv_pairs);
      const auto o = retrieval_options(t, s);
      for (int64_t length : s.lengths) {  // every prompt once, as check_niah_options does
        for (int64_t k = 0; k < o.samples_per_length; ++k) {
          make_retrieval_sample(o.task, tokenizer_, filler_, length,
                                retrieval_sample_seed(o.seed, length, k), o.num_kv_pairs);
        }
      }
    }
    if (warn && static_cast<int64_t>(filler_.size()) < longest) {
      warn(t.name + ": the validation text has " + std::to_string(filler_.size()) +
           " tokens, fewer than the longest prompt (" + std::to_string(longest) +
           "): the haystack repeats it");
    }
  }
}

nlohmann::json EvalSuite::empty_results(
    const std::vector<std::pair<std::string, std::string>>& models,
    const std::string& created) const {
  const auto& s = settings_;
  nlohmann::json r = {{"format", "halo-eval/1"}, {"seed", s.seed}, {"created", created}};
  r["models"] = nlohmann::json::array();
  for (const auto& [name, path] : models) r["models"].push_back({{"name", name}, {"path", path}});
  nlohmann::json tasks = nlohmann::json::object();
  for (const auto& t : tasks_) {
    nlohmann::json e;
    if (is_niah(t.kind)) {
      e = {{"lengths", s.lengths},
           {"depths", s.depths},
           {"trials", s.trials},
           {"accuracy", nlohmann::json::object()}};
      if (t.kind == "niah-multikey") e["keys"] = s.niah_keys;
      if (t.kind == "niah-multivalue") e["values"] = s.niah_values;
    } else if (t.kind == "passkey" || t.kind == "kv") {
      e = {{"lengths", s.lengths}, {"trials", s.trials}, {"accuracy", nlohmann::json::object()}};
      if (t.kind == "kv") e["pairs"] = s.kv_pairs;
    } else if (t.kind == "ppl-by-position") {
      e = {{"bucket_edges", position_bucket_edges(s.ppl_length, s.ppl_buckets)},
           {"train_length", s.train_length ? nlohmann::json(*s.train_length) : nlohmann::json()},
           {"length", s.ppl_length},
           {"sequences", s.ppl_sequences},
           {"loss", nlohmann::json::object()},
           {"tokens", nlohmann::json::object()}};
    } else {
      e = {{"file", t.file.string()},
           {"items", t.items.size()},
           {"acc", nlohmann::json::object()},
           {"acc_norm", nlohmann::json::object()}};
    }
    tasks[t.name] = e;
  }
  r["tasks"] = tasks;
  r["task_order"] = nlohmann::json::array();
  for (const auto& t : tasks_) r["task_order"].push_back(t.name);
  return r;
}

void EvalSuite::run_model(TaskModel& model, const std::string& model_name, nlohmann::json& results,
                          const std::function<void(const std::string&)>& progress) const {
  auto say = [&](const std::string& line) {
    if (progress) progress(model_name + " " + line);
  };
  auto& tasks = results.at("tasks");
  for (const auto& t : tasks_) {
    auto& e = tasks.at(t.name);
    if (is_niah(t.kind)) {
      const auto acc = evaluate_niah(model, tokenizer_, filler_, niah_options(t, settings_));
      e["accuracy"][model_name] = acc;
      std::string line = t.name + ":";
      for (size_t l = 0; l < acc.size(); ++l) {
        double mean = 0.0;
        for (double a : acc[l]) mean += a;
        line += " " + std::to_string(settings_.lengths[l]) + " " +
                percent(mean / static_cast<double>(acc[l].size()));
      }
      say(line);
    } else if (t.kind == "passkey" || t.kind == "kv") {
      std::vector<double> acc;
      std::string line = t.name + ":";
      for (const auto& sc :
           evaluate_retrieval(model, tokenizer_, filler_, retrieval_options(t, settings_))) {
        acc.push_back(sc.accuracy());
        line += " " + std::to_string(sc.context_length) + " " + percent(sc.accuracy());
      }
      e["accuracy"][model_name] = acc;
      say(line);
    } else if (t.kind == "ppl-by-position") {
      const auto p = evaluate_position_loss(model, filler_, position_options(settings_));
      e["loss"][model_name] = p.loss;
      e["tokens"][model_name] = p.tokens;
      char buf[96];
      std::snprintf(buf, sizeof(buf), "ppl-by-position: first bucket %.3f, last bucket %.3f",
                    p.loss.front(), p.loss.back());
      say(buf);
    } else {
      const auto sc = evaluate_mc(model, tokenizer_, t.items);
      e["acc"][model_name] = sc.acc;
      e["acc_norm"][model_name] = sc.acc_norm;
      char buf[160];
      std::snprintf(buf, sizeof(buf), "%s: acc %.3f, acc_norm %.3f (%lld items)", t.name.c_str(),
                    sc.acc, sc.acc_norm, static_cast<long long>(sc.items));
      say(buf);
    }
  }
}

}  // namespace halo::eval
