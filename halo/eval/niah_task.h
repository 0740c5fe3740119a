// Needle in a haystack over a length x depth grid, in the three variants of RULER (Hsieh et al.
// 2024): `niah` (one needle), `niah-multikey` (the asked needle among needles of other keys),
// `niah-multivalue` (several values of the asked key, all to be recalled). Needles read
// "The special magic number for KEY is: NNNNNNN." (7 digits, 6-letter keys) inside validation
// text (needle_haystack.h); the prompt ends with the question and the start of the answer. A
// trial scores the fraction of the expected values that appear as whole digit runs in the
// greedy continuation (0 or 1 for niah and niah-multikey).
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/task_model.h"

#include <cstdint>
#include <string>
#include <vector>

namespace halo::eval {

enum class NiahVariant { kSingle, kMultiKey, kMultiValue };
std::string niah_task_name(NiahVariant variant);  // "niah", "niah-multikey", "niah-multivalue"

struct NiahOptions {
  NiahVariant variant = NiahVariant::kSingle;
  std::vector<int64_t> lengths;  // prompt lengths in tokens
  std::vector<double> depths;    // where the asked needle sits in the filler, each in [0, 1]
  int64_t trials = 4;            // prompts per (length, depth)
  uint64_t seed = 0;             // with (variant, length, depth, trial): niah_sample_seed
  int64_t num_keys = 4;          // niah-multikey: needles in all (the asked one + distractors)
  int64_t num_values = 4;        // niah-multivalue: values of the asked key
};

struct NiahSample {
  std::vector<int64_t> prompt;       // exactly the requested length
  std::vector<std::string> answers;  // the values to recall (one, or num_values)
};

// The seed of one grid cell's trial; adding lengths, depths or trials changes no other cell.
uint64_t niah_sample_seed(uint64_t seed, NiahVariant variant, int64_t length, double depth,
                          int64_t trial);

// One prompt. The asked key's needle(s) sit at `depth` (niah-multivalue: its values one after
// another there); niah-multikey's other keys at random depths. Errors when `length` cannot hold
// instruction, needles and question (the message gives their size).
NiahSample make_niah_sample(NiahVariant variant, const data::Tokenizer& tokenizer,
                            const std::vector<int64_t>& filler, int64_t length, double depth,
                            uint64_t sample_seed, const NiahOptions& options);

// Fraction of `answers` found in `continuation` as whole digit runs.
double niah_score(const std::string& continuation, const std::vector<std::string>& answers);

// Checks the options (lengths, depths, trials, key and value counts) and builds every prompt
// once, so that a length too short for any of them fails before a model runs.
void check_niah_options(const NiahOptions& options, const data::Tokenizer& tokenizer,
                        const std::vector<int64_t>& filler);

// accuracy[l][d]: mean score over the trials at lengths[l], depths[d].
std::vector<std::vector<double>> evaluate_niah(TaskModel& model, const data::Tokenizer& tokenizer,
                                               const std::vector<int64_t>& filler,
                                               const NiahOptions& options);

}  // namespace halo::eval
