// Every method's ranking of the layers side by side, and what makes a choice arbitrary: a score
// equal for every layer (all zero included), layers tied at the cut between kept and converted,
// and (halo) a cut whose recall and commonsense differences lie within their standard errors.
// choose_mixers breaks ties by the lower layer index (a stable sort); the findings say so, so a
// choice made by the tie-break is never silent (issue 17 item 2).
#pragma once

#include "halo/selection/layer_scores.h"
#include "hypenet/hypenet_config.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace halo::selection {

// How choose_mixers orders equal scores.
inline constexpr const char* kTieBreak = "the lower layer index first (stable sort)";

struct MethodRanking {
  std::string method;          // "entropy", "halo", "kl", "uniform"
  std::string score;           // what it ranks by: "-entropy", "importance", "kl", "" (uniform)
  std::vector<int64_t> order;  // layers, the first to stay attention first (uniform: kept first)
  std::vector<int64_t> kept;   // the first k of `order`, increasing
  nlohmann::json to_json() const;
};

// The rankings the scores allow (a method whose score was not computed is left out; uniform is
// always there). k: the number of attention layers kept.
std::vector<MethodRanking> method_rankings(const LayerScores& scores, int64_t k);

struct ScoreFinding {
  std::string method;           // the method whose ranking it concerns
  std::string kind;             // "all_equal", "tie_at_cut", "within_std_error"
  std::vector<int64_t> layers;  // the layers concerned
  std::string message;          // one line for people
  nlohmann::json to_json() const;
};

// Ties and degenerate scores of every scored method (entropy, halo, kl) for a choice of k layers.
// Scores closer than 1e-12 (relative) count as equal.
std::vector<ScoreFinding> score_findings(const LayerScores& scores, int64_t k);

}  // namespace halo::selection
