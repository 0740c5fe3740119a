// Implementation of niah_task.h.
#include "halo/eval/niah_task.h"

#include "common/error.h"
#include "halo/eval/needle_haystack.h"
#include "halo/eval/retrieval_eval.h"
#include "halo/eval/seeded_draw.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace halo::eval {

namespace {

constexpr int kValueDigits = 7;
constexpr int kKeyLetters = 6;

std::string needle_text(const std::string& key, const std::string& value) {
  return "\nThe special magic number for " + key + " is: " + value + ".\n";
}

}  // namespace

std::string niah_task_name(NiahVariant variant) {
  switch (variant) {
    case NiahVariant::kSingle:
      return "niah";
    case NiahVariant::kMultiKey:
      return "niah-multikey";
    case NiahVariant::kMultiValue:
      return "niah-multivalue";
  }
  return "niah";
}

uint64_t niah_sample_seed(uint64_t seed, NiahVariant variant, int64_t length, double depth,
                          int64_t trial) {
  // The depth in millionths, so 0.1 parsed from "0.1" or computed as 1/10 gives one seed.
  const auto depth_key = static_cast<uint64_t>(std::llround(depth * 1e6));
  uint64_t h = splitmix64(seed ^ (0xA5A5ull + static_cast<uint64_t>(variant)));
  h = splitmix64(h ^ static_cast<uint64_t>(length));
  h = splitmix64(h ^ depth_key);
  return splitmix64(h ^ static_cast<uint64_t>(trial));
}

NiahSample make_niah_sample(NiahVariant variant, const data::Tokenizer& tokenizer,
                            const std::vector<int64_t>& filler, int64_t length, double depth,
                            uint64_t sample_seed, const NiahOptions& o) {
  const std::string name = niah_task_name(variant);
  HALO_CHECK(!filler.empty(), name,
             ": the validation text has no tokens. HINT: give --text or --data with documents");
  SeededDraw draw(sample_seed);
  const std::string key = draw.letters(kKeyLetters);
  NiahSample s;
  std::vector<Needle> needles;
  std::string question;
  if (variant == NiahVariant::kMultiValue) {
    for (int64_t i = 0; i < o.num_values; ++i) {
      std::string value;
      do {
        value = draw.digits(kValueDigits);
      } while (std::find(s.answers.begin(), s.answers.end(), value) != s.answers.end());
      s.answers.push_back(value);
      needles.push_back({tokenizer.encode(needle_text(key, value)), depth});
    }
    question = "\nWhat are all the special magic numbers for " + key +
               " mentioned in the provided text? The special magic numbers for " + key +
               " mentioned in the provided text are:";
  } else {
    s.answers.push_back(draw.digits(kValueDigits));
    needles.push_back({tokenizer.encode(needle_text(key, s.answers[0])), depth});
    if (variant == NiahVariant::kMultiKey) {
      std::vector<std::string> keys = {key};
      while (static_cast<int64_t>(keys.size()) < o.num_keys) {
        auto other = draw.letters(kKeyLetters);
        if (std::find(keys.begin(), keys.end(), other) != keys.end()) continue;
        keys.push_back(other);
        const auto value = draw.digits(kValueDigits);
        needles.push_back({tokenizer.encode(needle_text(other, value)), draw.unit()});
      }
    }
    question = "\nWhat is the special magic number for " + key +
               " mentioned in the provided text? The special magic number for " + key + " is:";
  }
  const uint64_t offset = draw.below(filler.size());
  s.prompt = build_haystack_prompt(name, tokenizer.encode(kRecallInstruction), needles,
                                   tokenizer.encode(question), filler, offset, length);
  return s;
}

double niah_score(const std::string& continuation, const std::vector<std::string>& answers) {
  if (answers.empty()) return 0.0;
  std::vector<std::string> runs;
  for (size_t i = 0; i < continuation.size();) {
    if (!std::isdigit(static_cast<unsigned char>(continuation[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < continuation.size() && std::isdigit(static_cast<unsigned char>(continuation[j])))
      ++j;
    runs.push_back(continuation.substr(i, j - i));
    i = j;
  }
  int64_t found = 0;
  for (const auto& a : answers) found += std::find(runs.begin(), runs.end(), a) != runs.end();
  return static_cast<double>(found) / static_cast<double>(answers.size());
}

void check_niah_options(const NiahOptions& o, const data::Tokenizer& tokenizer,
                        const std::vector<int64_t>& filler) {
  const std::string name = niah_task_name(o.variant);
  HALO_CHECK(!o.lengths.empty(), name, ": no lengths. HINT: --lengths 2K,8K");
  HALO_CHECK(!o.depths.empty(), name, ": no depths. HINT: --depths 0,0.5,1");
  for (double d : o.depths) {
    HALO_CHECK(d >= 0.0 && d <= 1.0, name, ": depth ", d, " is outside [0, 1]");
  }
  HALO_CHECK(o.trials >= 1, name, ": trials must be >= 1, got ", o.trials);
  HALO_CHECK(o.num_keys >= 2, name, ": num_keys must be >= 2, got ", o.num_keys);
  HALO_CHECK(o.num_values >= 2, name, ": num_values must be >= 2, got ", o.num_values);
  // Every prompt once (built and dropped): with a subword tokenizer the needles' token counts
  // vary with their digits and keys, so one short prompt would fail only mid-run otherwise.
  for (int64_t length : o.lengths) {
    for (double depth : o.depths) {
      for (int64_t t = 0; t < o.trials; ++t) {
        make_niah_sample(o.variant, tokenizer, filler, length, depth,
                         niah_sample_seed(o.seed, o.variant, length, depth, t), o);
      }
    }
  }
}

std::vector<std::vector<double>> evaluate_niah(TaskModel& model, const data::Tokenizer& tokenizer,
                                               const std::vector<int64_t>& filler,
                                               const NiahOptions& o) {
  check_niah_options(o, tokenizer, filler);
  std::vector<std::vector<double>> accuracy;
  for (int64_t length : o.lengths) {
    std::vector<double> row;
    for (double depth : o.depths) {
      // One cell's trials go to the model together and alone, each with a budget of its own
      // answers' tokens and 4 more (a period, a separator, a longer number is seen): a cell's
      // results do not depend on which other lengths and depths are evaluated.
      std::vector<NiahSample> samples;
      std::vector<std::vector<int64_t>> prompts;
      std::vector<int64_t> budgets;
      for (int64_t t = 0; t < o.trials; ++t) {
        samples.push_back(make_niah_sample(o.variant, tokenizer, filler, length, depth,
                                           niah_sample_seed(o.seed, o.variant, length, depth, t),
                                           o));
        prompts.push_back(samples.back().prompt);
        std::string all;
        for (const auto& a : samples.back().answers) all += (all.empty() ? " " : ", ") + a;
        budgets.push_back(static_cast<int64_t>(tokenizer.encode(all).size()) + 4);
      }
      const auto out = model.greedy_continue(prompts, budgets);
      double sum = 0.0;
      for (size_t i = 0; i < samples.size(); ++i) {
        sum += niah_score(continuation_text(tokenizer, out[i]), samples[i].answers);
      }
      row.push_back(sum / static_cast<double>(o.trials));
    }
    accuracy.push_back(row);
  }
  return accuracy;
}

}  // namespace halo::eval
