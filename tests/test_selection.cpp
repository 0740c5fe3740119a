// Layer selection (halo/selection): HALO's importance formula against values worked out by
// hand, choose_mixers' top-k and ties, the uniform and manual lists and their errors; HALO's
// recall signal on the eval tasks (planted per-layer memory horizons: the old 16-prompt signal
// ties, the new one separates), its standard error, and the tie / degenerate-score findings.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "halo/eval/niah_task.h"
#include "halo/eval/retrieval_eval.h"
#include "halo/selection/choose_mixers.h"
#include "halo/selection/halo_signal.h"
#include "halo/selection/importance.h"
#include "halo/selection/layer_ranking.h"
#include "halo/selection/layer_scores.h"
#include "tests/eval_fixtures.h"
#include "tests/eval_task_fakes.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <string>
#include <vector>

using namespace halo;
using Catch::Matchers::Contains;
using hypenet::MixerType;

TEST_CASE("HALO importance matches hand-computed values", "[selection]") {
  // Five layers. max R = 0.90 (layer 2), max C = 0.60 (layers 3 and 4).
  const std::vector<double> recall = {0.50, 0.80, 0.90, 0.30, 0.90};
  const std::vector<double> commonsense = {0.40, 0.55, 0.50, 0.60, 0.60};
  // layer 0: (0.90 - 0.50) / (0.60 - 0.40 + 1e-10) = 0.40 / 0.20 = 2.0
  // layer 1: (0.90 - 0.80) / (0.60 - 0.55 + 1e-10) = 0.10 / 0.05 = 2.0
  // layer 2: (0.90 - 0.90) / (0.60 - 0.50 + 1e-10) = 0.00 / 0.10 = 0.0
  // layer 3: (0.90 - 0.30) / (0.60 - 0.60 + 1e-10) = 0.60 / 1e-10 = 6e9 -> capped at 50
  // layer 4: (0.90 - 0.90) / (0.60 - 0.60 + 1e-10) = 0 / 1e-10 = 0.0
  const auto imp = selection::halo_importance(recall, commonsense);
  REQUIRE(imp.size() == 5);
  CHECK(imp[0] == Approx(2.0).epsilon(1e-8));
  CHECK(imp[1] == Approx(2.0).epsilon(1e-8));
  CHECK(imp[2] == 0.0);
  CHECK(imp[3] == 50.0);
  CHECK(imp[4] == 0.0);

  // A second set where the epsilon and the cap do not bind and the ratio is uneven:
  // R = {0.2, 0.7, 0.4}, C = {0.35, 0.5, 0.3}: max R = 0.7, max C = 0.5.
  // layer 0: (0.7 - 0.2) / (0.5 - 0.35) = 0.5 / 0.15 = 3.3333...
  // layer 1: 0 / (0 + 1e-10) = 0
  // layer 2: (0.7 - 0.4) / (0.5 - 0.3) = 0.3 / 0.2 = 1.5
  const auto imp2 = selection::halo_importance({0.2, 0.7, 0.4}, {0.35, 0.5, 0.3});
  CHECK(imp2[0] == Approx(10.0 / 3.0).epsilon(1e-8));
  CHECK(imp2[1] == 0.0);
  CHECK(imp2[2] == Approx(1.5).epsilon(1e-8));
  // Recall drop 0.01 with no commonsense drop at all: 0.01 / 1e-10 = 1e8, capped at 50.
  CHECK(selection::halo_importance({0.5, 0.49}, {0.5, 0.5})[1] == 50.0);

  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(selection::halo_importance({0.1, 0.2}, {0.1}),
                    Contains("2 recall scores but 1"));
  CHECK_THROWS_WITH(selection::halo_importance({0.1, NAN}, {0.1, 0.2}), Contains("layer 1"));
  CHECK_THROWS_AS(selection::halo_importance({}, {}), HaloError);
}

TEST_CASE("choose_mixers keeps the top-k scores as attention, ties to the lower layer",
          "[selection]") {
  CHECK(test::mixer_letters(selection::choose_mixers({0.1, 5.0, 2.0, 5.0, -1.0}, 2)) == "LALAL");
  CHECK(test::mixer_letters(selection::choose_mixers({3.0, 3.0, 3.0}, 1)) == "ALL");
  CHECK(test::mixer_letters(selection::choose_mixers({3.0, 1.0}, 0)) == "LL");
  CHECK(test::mixer_letters(selection::choose_mixers({3.0, 1.0}, 2)) == "AA");
  CHECK_THROWS_WITH(selection::choose_mixers({1.0, 2.0}, 3),
                    Catch::Matchers::Contains("num_attention_layers must lie in [0, 2]"));
  CHECK(selection::attention_layers_of({MixerType::kLightning, MixerType::kAttention,
                                        MixerType::kLightning, MixerType::kAttention}) ==
        std::vector<int64_t>{1, 3});
}

TEST_CASE("uniform and manual layer lists", "[selection]") {
  // floor((2k + 1) * L / (2n)): L = 28, n = 7 -> 2, 6, 10, 14, 18, 22, 26.
  CHECK(selection::uniform_attention_layers(28, 7) ==
        std::vector<int64_t>{2, 6, 10, 14, 18, 22, 26});
  // L = 4, n = 1 -> floor(4 / 2) = 2; L = 5, n = 2 -> floor(5/4) = 1, floor(15/4) = 3.
  CHECK(selection::uniform_attention_layers(4, 1) == std::vector<int64_t>{2});
  CHECK(selection::uniform_attention_layers(5, 2) == std::vector<int64_t>{1, 3});
  CHECK(selection::uniform_attention_layers(3, 3) == std::vector<int64_t>{0, 1, 2});
  CHECK(selection::uniform_attention_layers(3, 0).empty());
  CHECK_THROWS_AS(selection::uniform_attention_layers(3, 4), HaloError);

  CHECK(test::mixer_letters(selection::mixers_from_layers(4, {3, 0}, "selection.layers")) ==
        "ALLA");
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(selection::mixers_from_layers(4, {4}, "selection.layers"),
                    Contains("selection.layers: layer 4 is out of range; the model has 4 layers"));
  CHECK_THROWS_WITH(selection::mixers_from_layers(4, {1, 1}, "selection.layers"),
                    Contains("layer 1 is listed twice"));
}

// ---- HALO on real signals (issue 17 item 2) ----

namespace {

// Stands in for single-swap model i: it answers every recall task (passkey, kv, the niah
// variants) by reading the asked needle's value(s), but only from the last `horizon` tokens of
// the prompt (a Lightning layer with a short memory in place of attention loses what lies
// further back). Byte tokenizer: a token is a character.
class HorizonReader : public test::AnsweringModel {
 public:
  HorizonReader(const data::Tokenizer& tok, size_t horizon)
      : AnsweringModel(tok), horizon_(horizon) {}

 protected:
  std::string answer(const std::vector<int64_t>& p) override {
    const size_t from = p.size() > horizon_ ? p.size() - horizon_ : 0;
    const std::string text = tok_.decode(p);
    const std::string window = tok_.decode(std::vector<int64_t>(p.begin() + from, p.end()));
    std::smatch m;
    std::string needle;
    if (std::regex_search(text, m, std::regex("What is the pass key\\?"))) {
      needle = "The pass key is ([0-9]+)";
    } else if (std::regex_search(text, m, std::regex("What is the value of key ([A-Z]+)\\?"))) {
      needle = "The value of key " + m[1].str() + " is ([0-9]+)";
    } else if (std::regex_search(text, m, std::regex("magic numbers? for ([A-Z]+) mentioned"))) {
      needle = "magic number for " + m[1].str() + " is: ([0-9]+)";
    }
    const std::string found = needle.empty() ? "" : test::list_matches(window, std::regex(needle));
    return found.empty() ? " none." : found + ".";
  }

 private:
  size_t horizon_;
};

struct PlantedRun {
  selection::LayerScores scores;
  std::vector<selection::ScoreFinding> findings;
  std::vector<MixerType> mixers;
};

// Four layers: swapping layer 1 or 3 shortens the memory to 1500 / 600 tokens, layers 0 and 2
// lose nothing; commonsense (next-token accuracy, planted) drops most for layer 1. HALO's
// importance should rank layer 3 first (much recall lost, little commonsense), then layer 1.
PlantedRun run_planted(const selection::HaloSignalOptions& o, int64_t k) {
  test::ByteTokenizer tok;
  const std::string text =
      "A long time ago, in a galaxy far, far away, the rebels hid their plans in a small robot. "
      "It crossed the desert, met an old hermit and found a pilot who flew them to safety. ";
  selection::HaloSignal signal(o, tok, eval::filler_from_texts(tok, {text}));
  const std::vector<size_t> horizon = {1u << 20, 1500, 1u << 20, 600};
  const std::vector<double> commonsense = {0.60, 0.40, 0.60, 0.50};
  PlantedRun run;
  run.scores.num_layers = 4;
  for (int64_t i = 0; i < 4; ++i) {
    HorizonReader model(tok, horizon[i]);
    const auto c = selection::accuracy_signal(commonsense[i], 1e5);
    selection::score_halo_layer(run.scores, i, signal, model, &c);
  }
  run.scores.importance = selection::halo_importance(run.scores.recall, run.scores.commonsense);
  run.mixers = selection::choose_mixers(run.scores.importance, k);
  run.findings = selection::score_findings(run.scores, k);
  return run;
}

bool has_finding(const std::vector<selection::ScoreFinding>& f, const std::string& method,
                 const std::string& kind) {
  return std::any_of(f.begin(), f.end(), [&](const selection::ScoreFinding& x) {
    return x.method == method && x.kind == kind;
  });
}

}  // namespace

TEST_CASE(
    "halo: the old 16-prompt signal ties, recall at long lengths separates the planted "
    "layers, and ties are reported",
    "[selection]") {
  // The old signal: passkey + kv, 8 prompts each, at the selection's sequence length (512).
  selection::HaloSignalOptions old_signal;
  old_signal.recall_tasks = {"passkey", "kv"};
  old_signal.recall_lengths = {512};
  old_signal.trials = 8;
  old_signal.seed = 3;
  auto before = run_planted(old_signal, 1);
  for (double r : before.scores.recall) CHECK(r == 1.0);  // every memory reaches 512 tokens back
  for (double i : before.scores.importance) CHECK(i == 0.0);
  CHECK(test::mixer_letters(before.mixers) == "ALLL");  // layer 0, because it sorts first
  REQUIRE(has_finding(before.findings, "halo", "all_equal"));
  for (const auto& f : before.findings) {
    if (f.method != "halo") continue;
    CHECK_THAT(f.message, Contains("(all zero)"));
    CHECK_THAT(f.message, Contains(selection::kTieBreak));
  }

  // The new signal: niah over 5 depths, passkey and kv at 4096 tokens.
  selection::HaloSignalOptions o = old_signal;
  o.recall_tasks = {"niah", "passkey", "kv"};
  o.recall_lengths = {4096};
  auto after = run_planted(o, 1);
  const auto& s = after.scores;
  CHECK(s.recall[0] == 1.0);
  CHECK(s.recall[2] == 1.0);
  CHECK(s.recall[3] < s.recall[1]);
  CHECK(s.recall[1] < 1.0 - 3 * s.recall_std_error[1]);  // separated beyond its standard error
  for (int64_t i : {1, 3}) {
    CHECK(s.recall_std_error[i] > 0.0);
    CHECK(s.recall_std_error[i] < 0.1);
  }
  CHECK(s.recall_std_error[0] == 0.0);  // all right: exact on these prompts
  CHECK(s.importance[3] > s.importance[1]);
  CHECK(s.importance[1] > s.importance[0]);
  CHECK(test::mixer_letters(after.mixers) == "LLLA");
  CHECK(after.findings.empty());
  // Keeping two: layers 3 and 1, a clean cut. Keeping three: layers 0 and 2 tie at importance 0
  // across the cut, and the finding says which one the tie-break kept.
  CHECK(test::mixer_letters(selection::choose_mixers(s.importance, 2)) == "LALA");
  CHECK(selection::score_findings(s, 2).empty());
  const auto three = selection::score_findings(s, 3);
  REQUIRE(three.size() == 1);
  CHECK(three[0].kind == "tie_at_cut");
  CHECK(three[0].layers == std::vector<int64_t>{0, 2});
  CHECK_THAT(three[0].message, Contains("kept 0 (ties: the lower layer index first"));

  // Deterministic for a seed.
  auto again = run_planted(o, 1);
  CHECK(again.scores.recall == s.recall);
  CHECK(again.scores.recall_std_error == s.recall_std_error);
}

TEST_CASE("halo recall: the mean over tasks and its stratified standard error", "[selection]") {
  test::ByteTokenizer tok;
  const auto filler = eval::filler_from_texts(tok, {"the quick brown fox jumps over the dog. "});
  selection::HaloSignalOptions o;
  o.recall_tasks = {"niah", "passkey"};
  o.recall_lengths = {1024, 2048};
  o.depths = {0.0, 1.0};
  o.trials = 6;
  o.seed = 11;
  selection::HaloSignal signal(o, tok, filler);
  CHECK(signal.recall_prompts() == 2 * 2 * 6 + 2 * 6);
  HorizonReader model(tok, 700);
  const auto r = signal.recall(model);
  // The same tasks directly: niah cells [length][depth], passkey per length.
  eval::NiahOptions no;
  no.lengths = o.recall_lengths;
  no.depths = o.depths;
  no.trials = o.trials;
  no.seed = o.seed;
  const auto niah = eval::evaluate_niah(model, tok, filler, no);
  eval::RetrievalOptions ro;
  ro.context_lengths = o.recall_lengths;
  ro.samples_per_length = o.trials;
  ro.seed = o.seed;
  ro.batch_size = o.batch_size;
  const auto pk = eval::evaluate_retrieval(model, tok, filler, ro);
  double niah_mean = 0, niah_var = 0, pk_mean = 0, pk_var = 0;
  for (const auto& row : niah) {
    for (double p : row) {
      niah_mean += p / 4;
      niah_var += p * (1 - p) / 6 / 16;
    }
  }
  for (const auto& sc : pk) {
    pk_mean += sc.accuracy() / 2;
    pk_var += sc.accuracy() * (1 - sc.accuracy()) / 6 / 4;
  }
  CHECK(niah[0][1] == 1.0);  // depth 1: the needle sits next to the question
  CHECK(niah[1][0] == 0.0);  // depth 0 of 2048: out of reach
  CHECK(r.mean == Approx((niah_mean + pk_mean) / 2).epsilon(1e-12));
  CHECK(r.std_error == Approx(std::sqrt(niah_var + pk_var) / 2).epsilon(1e-12));
  CHECK(r.std_error <= signal.worst_recall_std_error());
  // Worst case: every cell at p = 0.5: niah 4 cells, passkey 2, 6 trials each.
  CHECK(signal.worst_recall_std_error() ==
        Approx(std::sqrt(0.25 / 6 / 4 + 0.25 / 6 / 2) / 2).epsilon(1e-12));
  CHECK(r.items == 36);

  // Lengths too short for a prompt fail when the signal is made, before any model runs.
  o.recall_lengths = {64};
  CHECK_THROWS_WITH(selection::HaloSignal(o, tok, filler), Contains("too short"));
  o.recall_lengths = {1024};
  o.recall_tasks = {"squad"};
  CHECK_THROWS_WITH(selection::HaloSignal(o, tok, filler),
                    Contains("'squad' is not a recall task"));
}

TEST_CASE("layer findings: all equal, a tie at the cut, a cut within the standard error",
          "[selection]") {
  selection::LayerScores s;
  s.num_layers = 4;
  s.kl = {0.5, 0.5, 0.5, 0.5};
  s.entropy = {1.0, 2.0, 1.0, 3.0};  // layers 0 and 2 sharpest and equal
  s.recall = {0.80, 0.78, 0.60, 0.81};
  s.recall_std_error = {0.03, 0.03, 0.04, 0.03};
  s.commonsense = {0.50, 0.50, 0.45, 0.52};
  s.commonsense_std_error = {0.01, 0.01, 0.01, 0.01};
  s.importance = selection::halo_importance(s.recall, s.commonsense);
  // importance: layer 2 (0.21 / 0.07 = 3) first, then layer 1 (0.03 / 0.02 = 1.5), layer 0
  // (0.01 / 0.02 = 0.5), layer 3 (0).
  const auto f = selection::score_findings(s, 2);
  CHECK(has_finding(f, "kl", "all_equal"));
  CHECK_FALSE(has_finding(f, "entropy", "tie_at_cut"));  // 0 and 2 are both kept: no tie at the cut
  CHECK(selection::score_findings(s, 1).size() >= 2);
  CHECK(has_finding(selection::score_findings(s, 1), "entropy", "tie_at_cut"));
  // halo's cut at k = 2: layer 1 (kept) vs layer 0: recall 0.78 vs 0.80 (SE of the difference
  // 0.042), commonsense equal: within the standard errors.
  REQUIRE(has_finding(f, "halo", "within_std_error"));
  for (const auto& x : f) {
    if (x.method == "halo") CHECK(x.layers == std::vector<int64_t>{1, 0});
  }
  // At k = 1 the cut is layer 2 vs layer 1: recall differs by 0.18, far beyond 0.05.
  CHECK_FALSE(has_finding(selection::score_findings(s, 1), "halo", "within_std_error"));

  const auto rankings = selection::method_rankings(s, 2);
  REQUIRE(rankings.size() == 4);
  CHECK(rankings[0].method == "entropy");
  CHECK(rankings[0].order == std::vector<int64_t>{0, 2, 1, 3});
  CHECK(rankings[1].method == "halo");
  CHECK(rankings[1].order == std::vector<int64_t>{2, 1, 0, 3});
  CHECK(rankings[1].kept == std::vector<int64_t>{1, 2});
  CHECK(rankings[2].method == "kl");
  CHECK(rankings[2].kept == std::vector<int64_t>{0, 1});
  CHECK(rankings[3].method == "uniform");
  CHECK(rankings[3].kept == selection::uniform_attention_layers(4, 2));
}
