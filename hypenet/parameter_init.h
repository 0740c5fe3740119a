// Random initialisation of a model's parameters as Hugging Face's _init_weights does it, by
// parameter name: RMSNorm weights ("...norm.weight") one, biases zero, every other weight
// normal(0, std). Deterministic for a given seed (one CPU generator, parameters in order).
#pragma once

#include <torch/nn/module.h>

#include <cstdint>

namespace halo::hypenet {

void init_parameters_like_hf(torch::nn::Module& module, double std, uint64_t seed);

}  // namespace halo::hypenet
