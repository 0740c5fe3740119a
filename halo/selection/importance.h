// HALO's layer importance (HALO_NOTES 3 step 2). For layer i, R_i and C_i are the recall and
// commonsense scores of the model where only layer i is the stage-1 RNN:
//
//   importance_i = min(50, (max_j R_j - R_i) / (max_j C_j - C_i + 1e-10))
//
// High importance: swapping layer i costs much recall for little commonsense, so it should
// stay softmax attention. The cap (50) bounds layers whose swap costs no commonsense at all.
#pragma once

#include <vector>

namespace halo::selection {

inline constexpr double kImportanceCap = 50.0;
inline constexpr double kImportanceEpsilon = 1e-10;

// recall, commonsense: one score per layer (same length >= 1, finite). Returns one importance
// per layer. Errors name the layer with a non-finite score or the mismatching lengths.
std::vector<double> halo_importance(const std::vector<double>& recall,
                                    const std::vector<double>& commonsense);

}  // namespace halo::selection
