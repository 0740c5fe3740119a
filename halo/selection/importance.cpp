// Implementation of importance.h.
#include "halo/selection/importance.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>

namespace halo::selection {

std::vector<double> halo_importance(const std::vector<double>& recall,
                                    const std::vector<double>& commonsense) {
  HALO_CHECK(!recall.empty(), "halo_importance: need one recall score per layer, got none");
  HALO_CHECK(recall.size() == commonsense.size(), "halo_importance: ", recall.size(),
             " recall scores but ", commonsense.size(), " commonsense scores (one each per layer)");
  for (size_t i = 0; i < recall.size(); ++i) {
    HALO_CHECK(std::isfinite(recall[i]) && std::isfinite(commonsense[i]), "halo_importance: layer ",
               i, " has a non-finite score (recall ", recall[i], ", commonsense ", commonsense[i],
               ")");
  }
  const double max_r = *std::max_element(recall.begin(), recall.end());
  const double max_c = *std::max_element(commonsense.begin(), commonsense.end());
  std::vector<double> importance(recall.size());
  for (size_t i = 0; i < recall.size(); ++i) {
    importance[i] = std::min(kImportanceCap,
                             (max_r - recall[i]) / (max_c - commonsense[i] + kImportanceEpsilon));
  }
  return importance;
}

}  // namespace halo::selection
