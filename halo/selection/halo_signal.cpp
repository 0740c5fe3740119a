// Implementation of halo_signal.h.
#include "halo/selection/halo_signal.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>

namespace halo::selection {

namespace {

constexpr const char* kModel = "model";  // the one model name in the results tree

bool is_niah(const std::string& kind) {
  return kind.rfind("niah", 0) == 0;
}

// Mean and variance of the mean of one task over its cells (each `trials` prompts).
struct TaskMoments {
  double mean = 0.0, variance = 0.0;
};

TaskMoments cell_moments(const std::vector<double>& cells, int64_t trials) {
  TaskMoments m;
  if (cells.empty()) return m;
  const double n = static_cast<double>(cells.size());
  for (double p : cells) {
    m.mean += p / n;
    m.variance += p * (1.0 - p) / static_cast<double>(trials) / (n * n);
  }
  return m;
}

}  // namespace

const std::vector<std::string>& recall_task_kinds() {
  static const std::vector<std::string> kinds = {"niah", "niah-multikey", "niah-multivalue",
                                                 "passkey", "kv"};
  return kinds;
}

SignalScore accuracy_signal(double accuracy, double tokens) {
  SignalScore s;
  s.mean = accuracy;
  s.items = static_cast<int64_t>(tokens);
  s.std_error = tokens > 0 ? std::sqrt(std::max(0.0, accuracy * (1.0 - accuracy)) / tokens) : 0.0;
  return s;
}

HaloSignal::HaloSignal(HaloSignalOptions options, const data::Tokenizer& tokenizer,
                       std::vector<int64_t> filler)
    : options_(std::move(options)) {
  const auto& o = options_;
  HALO_CHECK(!o.recall_tasks.empty(), "halo layer selection: no recall task");
  HALO_CHECK(!o.recall_lengths.empty(), "halo layer selection: no recall length");
  std::vector<eval::EvalTask> tasks;
  for (const auto& kind : o.recall_tasks) {
    const auto& known = recall_task_kinds();
    HALO_CHECK(std::find(known.begin(), known.end(), kind) != known.end(),
               "halo layer selection: '", kind,
               "' is not a recall task; known: niah, niah-multikey, niah-multivalue, passkey, kv");
    eval::EvalTask t;
    t.kind = kind;
    t.name = kind;
    tasks.push_back(t);
  }
  eval::EvalSettings s;
  s.lengths = o.recall_lengths;
  s.depths = o.depths;
  s.trials = o.trials;
  s.seed = o.seed;
  s.batch_size = o.batch_size;
  recall_ = std::make_unique<eval::EvalSuite>(tasks, s, tokenizer, filler);
  if (!o.mc_file.empty()) {
    eval::EvalTask t;
    t.kind = "mc";
    t.file = o.mc_file;
    t.name = eval::mc_task_name(o.mc_file);
    mc_ = std::make_unique<eval::EvalSuite>(std::vector<eval::EvalTask>{t}, s, tokenizer, filler);
  }
}

SignalScore HaloSignal::recall(eval::TaskModel& model) const {
  auto results = recall_->empty_results({{kModel, ""}}, "");
  recall_->run_model(model, kModel, results);
  SignalScore r;
  double variance = 0.0;
  const double k = static_cast<double>(recall_->tasks().size());
  for (const auto& t : recall_->tasks()) {
    const auto& acc = results["tasks"][t.name]["accuracy"][kModel];
    std::vector<double> cells;
    if (is_niah(t.kind)) {
      for (const auto& row : acc) {
        for (const auto& v : row) cells.push_back(v.get<double>());
      }
    } else {
      for (const auto& v : acc) cells.push_back(v.get<double>());
    }
    const auto m = cell_moments(cells, options_.trials);
    r.mean += m.mean / k;
    variance += m.variance / (k * k);
    r.items += static_cast<int64_t>(cells.size()) * options_.trials;
  }
  r.std_error = std::sqrt(variance);
  return r;
}

SignalScore HaloSignal::commonsense_mc(eval::TaskModel& model) const {
  HALO_CHECK(mc_, "halo layer selection: no multiple-choice file for the commonsense score");
  auto results = mc_->empty_results({{kModel, ""}}, "");
  mc_->run_model(model, kModel, results);
  const auto& t = mc_->tasks().front();
  return accuracy_signal(results["tasks"][t.name]["acc"][kModel].get<double>(),
                         static_cast<double>(t.items.size()));
}

int64_t HaloSignal::recall_prompts() const {
  int64_t n = 0;
  const auto lengths = static_cast<int64_t>(options_.recall_lengths.size());
  for (const auto& t : recall_->tasks()) {
    const int64_t cells =
        lengths * (is_niah(t.kind) ? static_cast<int64_t>(options_.depths.size()) : 1);
    n += cells * options_.trials;
  }
  return n;
}

double HaloSignal::worst_recall_std_error() const {
  double variance = 0.0;
  const double k = static_cast<double>(recall_->tasks().size());
  const auto lengths = static_cast<double>(options_.recall_lengths.size());
  for (const auto& t : recall_->tasks()) {
    const double cells =
        lengths * (is_niah(t.kind) ? static_cast<double>(options_.depths.size()) : 1);
    // cells strata at p = 0.5: variance 0.25 / trials each, of a mean over `cells`.
    variance += 0.25 / static_cast<double>(options_.trials) / cells / (k * k);
  }
  return std::sqrt(variance);
}

std::string HaloSignal::recall_description() const {
  std::string tasks, lengths;
  for (const auto& t : options_.recall_tasks) tasks += (tasks.empty() ? "" : ", ") + t;
  for (auto l : options_.recall_lengths) {
    lengths += (lengths.empty() ? "" : ", ") + std::to_string(l);
  }
  std::string s = tasks + " at " + lengths + " tokens; " + std::to_string(options_.trials) +
                  " trials per length";
  const bool niah = std::any_of(options_.recall_tasks.begin(), options_.recall_tasks.end(),
                                [](const std::string& k) { return is_niah(k); });
  if (niah) s += " (niah: per length x " + std::to_string(options_.depths.size()) + " depths)";
  return s + ", " + std::to_string(recall_prompts()) + " prompts per layer";
}

std::string HaloSignal::commonsense_description() const {
  if (!mc_) return "next-token accuracy on the validation batches";
  const auto& t = mc_->tasks().front();
  return t.name + " (" + std::to_string(t.items.size()) + " items, acc)";
}

}  // namespace halo::selection
