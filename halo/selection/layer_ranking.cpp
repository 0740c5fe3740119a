// Implementation of layer_ranking.h.
#include "halo/selection/layer_ranking.h"

#include "common/error.h"
#include "halo/selection/choose_mixers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace halo::selection {

namespace {

bool same(double a, double b) {
  return std::abs(a - b) <= 1e-12 * std::max({1.0, std::abs(a), std::abs(b)});
}

std::string num(double v) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

std::string layer_list(const std::vector<int64_t>& layers) {
  if (layers.empty()) return "none";
  std::string s;
  for (auto l : layers) s += (s.empty() ? "" : ", ") + std::to_string(l);
  return s;
}

struct Scored {
  std::string method, score;
  std::vector<double> values;  // higher = stay attention
};

std::vector<Scored> scored_methods(const LayerScores& s) {
  std::vector<Scored> out;
  const auto L = static_cast<size_t>(s.num_layers);
  if (s.entropy.size() == L && L > 0) {
    Scored e{"entropy", "-entropy", {}};
    for (double v : s.entropy) e.values.push_back(-v);
    out.push_back(e);
  }
  if (s.importance.size() == L && L > 0) out.push_back({"halo", "importance", s.importance});
  if (s.kl.size() == L && L > 0) out.push_back({"kl", "kl", s.kl});
  return out;
}

std::vector<int64_t> ranked(const std::vector<double>& values) {
  std::vector<int64_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return values[a] > values[b]; });
  return order;
}

std::vector<int64_t> first_sorted(const std::vector<int64_t>& order, int64_t k) {
  std::vector<int64_t> kept(order.begin(), order.begin() + k);
  std::sort(kept.begin(), kept.end());
  return kept;
}

}  // namespace

nlohmann::json MethodRanking::to_json() const {
  return {{"score", score}, {"order", order}, {"kept", kept}};
}

nlohmann::json ScoreFinding::to_json() const {
  return {{"method", method}, {"kind", kind}, {"layers", layers}, {"message", message}};
}

std::vector<MethodRanking> method_rankings(const LayerScores& s, int64_t k) {
  const int64_t L = s.num_layers;
  HALO_CHECK(k >= 0 && k <= L, "layer rankings: k = ", k, " must lie in [0, ", L, "]");
  std::vector<MethodRanking> out;
  for (const auto& m : scored_methods(s)) {
    MethodRanking r{m.method, m.score, ranked(m.values), {}};
    r.kept = first_sorted(r.order, k);
    out.push_back(r);
  }
  if (L > 0) {
    MethodRanking u{"uniform", "", {}, uniform_attention_layers(L, k)};
    u.order = u.kept;
    for (int64_t i = 0; i < L; ++i) {
      if (!std::binary_search(u.kept.begin(), u.kept.end(), i)) u.order.push_back(i);
    }
    out.push_back(u);
  }
  return out;
}

std::vector<ScoreFinding> score_findings(const LayerScores& s, int64_t k) {
  const int64_t L = s.num_layers;
  HALO_CHECK(k >= 0 && k <= L, "layer selection findings: k = ", k, " must lie in [0, ", L, "]");
  std::vector<ScoreFinding> out;
  const std::string tie_break = std::string(" (ties: ") + kTieBreak + ")";
  for (const auto& m : scored_methods(s)) {
    const auto order = ranked(m.values);
    const auto kept = first_sorted(order, k);
    const auto [lo, hi] = std::minmax_element(m.values.begin(), m.values.end());
    const std::string shown = m.method == "entropy" ? "entropy" : m.score;
    const double shown_value = m.method == "entropy" ? -*lo : *lo;
    if (L > 1 && same(*lo, *hi)) {
      std::vector<int64_t> all(L);
      std::iota(all.begin(), all.end(), 0);
      out.push_back({m.method, "all_equal", all,
                     m.method + ": every layer has " + shown + " " + num(shown_value) +
                         (shown_value == 0 ? " (all zero)" : "") +
                         ", so this score does not tell the layers apart; its " +
                         std::to_string(k) + " kept layers (" + layer_list(kept) +
                         ") are the tie-break's choice" + tie_break});
      continue;
    }
    if (k > 0 && k < L && same(m.values[order[k - 1]], m.values[order[k]])) {
      const double cut = m.values[order[k - 1]];
      std::vector<int64_t> tied, tied_kept;
      for (int64_t i = 0; i < L; ++i) {
        if (!same(m.values[i], cut)) continue;
        tied.push_back(i);
        if (std::binary_search(kept.begin(), kept.end(), i)) tied_kept.push_back(i);
      }
      const double value = m.method == "entropy" ? -cut : cut;
      out.push_back({m.method, "tie_at_cut", tied,
                     m.method + ": layers " + layer_list(tied) + " tie at " + shown + " " +
                         num(value) + " across the cut between kept and converted; kept " +
                         layer_list(tied_kept) + tie_break});
      continue;
    }
    if (m.method != "halo" || k == 0 || k == L ||
        s.recall_std_error.size() != static_cast<size_t>(L) ||
        s.commonsense_std_error.size() != static_cast<size_t>(L)) {
      continue;
    }
    // HALO's cut: the last kept layer against the first converted one.
    const int64_t a = order[k - 1], b = order[k];
    auto diff_se = [](const std::vector<double>& se, int64_t i, int64_t j) {
      return std::sqrt(se[i] * se[i] + se[j] * se[j]);
    };
    const double dr = std::abs(s.recall[a] - s.recall[b]);
    const double dc = std::abs(s.commonsense[a] - s.commonsense[b]);
    const double ser = diff_se(s.recall_std_error, a, b);
    const double sec = diff_se(s.commonsense_std_error, a, b);
    if (dr <= ser && dc <= sec) {
      out.push_back({m.method,
                     "within_std_error",
                     {a, b},
                     "halo: the cut between layer " + std::to_string(a) + " (kept, importance " +
                         num(s.importance[a]) + ") and layer " + std::to_string(b) +
                         " (converted, importance " + num(s.importance[b]) +
                         ") lies within the standard errors: recall " + num(s.recall[a]) + " vs " +
                         num(s.recall[b]) + " (difference " + num(dr) + ", its SE " + num(ser) +
                         "), commonsense " + num(s.commonsense[a]) + " vs " +
                         num(s.commonsense[b]) + " (difference " + num(dc) + ", its SE " +
                         num(sec) + "); more recall trials or longer lengths would separate them"});
    }
    const auto [rlo, rhi] = std::minmax_element(s.recall.begin(), s.recall.end());
    const auto ilo = rlo - s.recall.begin(), ihi = rhi - s.recall.begin();
    if (*rhi - *rlo <= diff_se(s.recall_std_error, ilo, ihi)) {
      std::vector<int64_t> all(L);
      std::iota(all.begin(), all.end(), 0);
      out.push_back({m.method, "within_std_error", all,
                     "halo: recall ranges only from " + num(*rlo) + " (layer " +
                         std::to_string(ilo) + ") to " + num(*rhi) + " (layer " +
                         std::to_string(ihi) + "), within the standard error of that difference (" +
                         num(diff_se(s.recall_std_error, ilo, ihi)) +
                         "): recall does not separate any two layers"});
    }
  }
  return out;
}

}  // namespace halo::selection
