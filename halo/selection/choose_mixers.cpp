// Implementation of choose_mixers.h.
#include "halo/selection/choose_mixers.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace halo::selection {

using hypenet::MixerType;

std::vector<MixerType> choose_mixers(const std::vector<double>& scores,
                                     int64_t num_attention_layers) {
  const auto L = static_cast<int64_t>(scores.size());
  HALO_CHECK(num_attention_layers >= 0 && num_attention_layers <= L,
             "choose_mixers: num_attention_layers must lie in [0, ", L, "] (the layer count), got ",
             num_attention_layers);
  for (int64_t i = 0; i < L; ++i) {
    HALO_CHECK(std::isfinite(scores[i]), "choose_mixers: layer ", i, " has a non-finite score ",
               scores[i]);
  }
  std::vector<int64_t> order(L);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  std::vector<MixerType> mixers(L, MixerType::kLightning);
  for (int64_t k = 0; k < num_attention_layers; ++k) mixers[order[k]] = MixerType::kAttention;
  return mixers;
}

std::vector<int64_t> uniform_attention_layers(int64_t num_layers, int64_t num_attention_layers) {
  HALO_CHECK(num_layers >= 1, "uniform layer selection: the model has no layers");
  HALO_CHECK(num_attention_layers >= 0 && num_attention_layers <= num_layers,
             "uniform layer selection: num_attention_layers must lie in [0, ", num_layers,
             "], got ", num_attention_layers);
  std::vector<int64_t> layers;
  for (int64_t k = 0; k < num_attention_layers; ++k) {
    // Integer form of floor((k + 0.5) * L / n): distinct and increasing since L >= n.
    layers.push_back(((2 * k + 1) * num_layers) / (2 * num_attention_layers));
  }
  return layers;
}

std::vector<MixerType> mixers_from_layers(int64_t num_layers,
                                          const std::vector<int64_t>& attention_layers,
                                          const std::string& where) {
  std::vector<MixerType> mixers(num_layers, MixerType::kLightning);
  for (int64_t i : attention_layers) {
    HALO_CHECK(i >= 0 && i < num_layers, where, ": layer ", i, " is out of range; the model has ",
               num_layers, " layers (0 to ", num_layers - 1, ")");
    HALO_CHECK(mixers[i] != MixerType::kAttention, where, ": layer ", i, " is listed twice");
    mixers[i] = MixerType::kAttention;
  }
  return mixers;
}

std::vector<int64_t> attention_layers_of(const std::vector<MixerType>& mixers) {
  std::vector<int64_t> layers;
  for (size_t i = 0; i < mixers.size(); ++i) {
    if (mixers[i] == MixerType::kAttention) layers.push_back(static_cast<int64_t>(i));
  }
  return layers;
}

}  // namespace halo::selection
