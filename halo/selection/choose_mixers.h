// Turning per-layer scores into HypeNet's `mixer_types`, and the score-free choices:
// `uniform` (evenly spaced attention layers) and `manual` (a list of layer indices).
#pragma once

#include "hypenet/hypenet_config.h"

#include <cstdint>
#include <vector>

namespace halo::selection {

// The `num_attention_layers` layers with the highest scores become attention, the rest
// lightning-attn; ties go to the lower layer index. scores: one per layer, finite.
std::vector<hypenet::MixerType> choose_mixers(const std::vector<double>& scores,
                                              int64_t num_attention_layers);

// Indices of `num_attention_layers` evenly spaced layers out of `num_layers`: layer
// floor((k + 0.5) * L / n) for k = 0..n-1 (the centres of n equal bands), increasing.
std::vector<int64_t> uniform_attention_layers(int64_t num_layers, int64_t num_attention_layers);

// mixer_types with attention exactly at `attention_layers` (each in [0, L), no repeats).
// `where` names the config key in messages (e.g. "selection.layers").
std::vector<hypenet::MixerType> mixers_from_layers(int64_t num_layers,
                                                   const std::vector<int64_t>& attention_layers,
                                                   const std::string& where);

// The attention layer indices of a mixer list, increasing.
std::vector<int64_t> attention_layers_of(const std::vector<hypenet::MixerType>& mixers);

}  // namespace halo::selection
