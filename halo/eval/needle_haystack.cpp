// Implementation of needle_haystack.h.
#include "halo/eval/needle_haystack.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>

namespace halo::eval {

const char* const kRecallInstruction =
    "There is an important piece of information hidden inside a lot of irrelevant text. Find "
    "it and memorize it. I will quiz you about it.\n";

int64_t haystack_overhead(const std::vector<int64_t>& intro, const std::vector<Needle>& needles,
                          const std::vector<int64_t>& question) {
  auto fixed = static_cast<int64_t>(intro.size() + question.size());
  for (const auto& n : needles) fixed += static_cast<int64_t>(n.ids.size());
  return fixed;
}

std::vector<int64_t> build_haystack_prompt(const std::string& task,
                                           const std::vector<int64_t>& intro,
                                           const std::vector<Needle>& needles,
                                           const std::vector<int64_t>& question,
                                           const std::vector<int64_t>& filler, uint64_t offset,
                                           int64_t context_length) {
  HALO_CHECK(!filler.empty(), task,
             ": the filler text has no tokens. HINT: pass validation documents or validation "
             "token ids");
  const int64_t fixed = haystack_overhead(intro, needles, question);
  HALO_CHECK(context_length > fixed, task, ": context length ", context_length,
             " is too short; the instruction, needles and question alone take ", fixed,
             " tokens. HINT: use a context length of at least ", 2 * fixed);
  const int64_t filler_len = context_length - fixed;
  std::vector<size_t> order(needles.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return needles[a].depth < needles[b].depth; });
  std::vector<int64_t> prompt;
  prompt.reserve(context_length);
  offset %= filler.size();
  auto take_filler = [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      prompt.push_back(filler[offset]);
      offset = (offset + 1) % filler.size();
    }
  };
  prompt.insert(prompt.end(), intro.begin(), intro.end());
  int64_t used = 0;
  for (size_t i : order) {
    const double depth = std::clamp(needles[i].depth, 0.0, 1.0);
    const auto at = static_cast<int64_t>(std::llround(depth * static_cast<double>(filler_len)));
    take_filler(at - used);
    used = at;
    prompt.insert(prompt.end(), needles[i].ids.begin(), needles[i].ids.end());
  }
  take_filler(filler_len - used);
  prompt.insert(prompt.end(), question.begin(), question.end());
  return prompt;
}

}  // namespace halo::eval
