// Implementation of retrieval_prompts.h.
#include "halo/eval/retrieval_prompts.h"

#include "halo/common/error.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <random>

namespace halo::eval {

namespace {

constexpr const char* kInstruction =
    "There is an important piece of information hidden inside a lot of irrelevant text. Find "
    "it and memorize it. I will quiz you about it.\n";

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// std::mt19937_64's sequence is fixed by the standard; the distributions are not, so values are
// drawn with modulo and a 53-bit fraction (identical on every platform).
struct Draw {
  std::mt19937_64 rng;
  uint64_t below(uint64_t n) { return rng() % n; }
  double unit() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
  std::string digits(int n) {
    std::string s(1, static_cast<char>('1' + below(9)));
    while (static_cast<int>(s.size()) < n) s += static_cast<char>('0' + below(10));
    return s;
  }
  std::string letters(int n) {
    std::string s;
    while (static_cast<int>(s.size()) < n) s += static_cast<char>('A' + below(26));
    return s;
  }
};

void append(std::vector<int64_t>& out, const std::vector<int64_t>& ids) {
  out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace

std::string retrieval_task_name(RetrievalTask task) {
  return task == RetrievalTask::kPasskey ? "passkey" : "key_value";
}

uint64_t retrieval_sample_seed(uint64_t seed, int64_t context_length, int64_t k) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(context_length)) ^
                    static_cast<uint64_t>(k));
}

RetrievalSample make_retrieval_sample(RetrievalTask task, const data::Tokenizer& tokenizer,
                                      const std::vector<int64_t>& filler, int64_t context_length,
                                      uint64_t sample_seed, int64_t num_kv_pairs) {
  const std::string name = retrieval_task_name(task);
  HALO_CHECK(!filler.empty(), name,
             " retrieval: the filler text has no tokens. HINT: pass "
             "validation documents or validation token ids");
  HALO_CHECK(task == RetrievalTask::kPasskey || num_kv_pairs >= 1, name,
             " retrieval: num_kv_pairs must be >= 1, got ", num_kv_pairs);
  Draw draw{std::mt19937_64(sample_seed)};
  RetrievalSample s;
  std::vector<std::vector<int64_t>> needles;
  std::string question;
  if (task == RetrievalTask::kPasskey) {
    s.answer = draw.digits(5);
    needles.push_back(tokenizer.encode("\nThe pass key is " + s.answer + ". Remember it.\n"));
    question = "\nWhat is the pass key? The pass key is";
  } else {
    std::vector<std::string> keys, values;
    while (static_cast<int64_t>(keys.size()) < num_kv_pairs) {
      auto key = draw.letters(4);
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      keys.push_back(key);
      values.push_back(draw.digits(5));
      needles.push_back(
          tokenizer.encode("\nThe value of key " + key + " is " + values.back() + ".\n"));
    }
    const auto asked = draw.below(keys.size());
    s.answer = values[asked];
    question =
        "\nWhat is the value of key " + keys[asked] + "? The value of key " + keys[asked] + " is";
  }
  const auto intro = tokenizer.encode(kInstruction);
  const auto ask = tokenizer.encode(question);
  int64_t fixed = static_cast<int64_t>(intro.size() + ask.size());
  for (const auto& n : needles) fixed += static_cast<int64_t>(n.size());
  HALO_CHECK(context_length > fixed, name, " retrieval: context length ", context_length,
             " is too short; the instruction, needles and question alone take ", fixed,
             " tokens. HINT: use a context length of at least ", 2 * fixed);
  const int64_t filler_len = context_length - fixed;
  // Needle positions in the filler, increasing (random depths, sorted).
  for (size_t i = 0; i < needles.size(); ++i) s.depths.push_back(draw.unit());
  std::vector<size_t> order(needles.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return s.depths[a] < s.depths[b]; });
  uint64_t offset = draw.below(filler.size());
  auto take_filler = [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      s.prompt.push_back(filler[offset]);
      offset = (offset + 1) % filler.size();
    }
  };
  s.prompt.reserve(context_length);
  append(s.prompt, intro);
  int64_t used = 0;
  for (size_t i : order) {
    const auto at =
        static_cast<int64_t>(std::llround(s.depths[i] * static_cast<double>(filler_len)));
    take_filler(at - used);
    used = at;
    append(s.prompt, needles[i]);
  }
  take_filler(filler_len - used);
  append(s.prompt, ask);
  return s;
}

std::vector<int64_t> filler_from_texts(const data::Tokenizer& tokenizer,
                                       const std::vector<std::string>& texts) {
  std::vector<int64_t> out;
  const auto sep = tokenizer.encode("\n\n");
  for (size_t i = 0; i < texts.size(); ++i) {
    if (i > 0) append(out, sep);
    append(out, tokenizer.encode(texts[i]));
  }
  return out;
}

std::vector<int64_t> filler_from_token_ids(const at::Tensor& ids,
                                           const data::SpecialTokenIds& specials) {
  HALO_CHECK(ids.defined() && ids.scalar_type() == at::kLong,
             "filler_from_token_ids: ids must be an int64 tensor");
  auto flat = ids.reshape({-1}).to(at::kCPU).contiguous();
  const auto* p = flat.data_ptr<int64_t>();
  std::vector<int64_t> out;
  out.reserve(flat.numel());
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const int64_t t = p[i];
    if (t == specials.bos || t == specials.eos || t == specials.pad || t == specials.unk) continue;
    out.push_back(t);
  }
  return out;
}

bool retrieval_answer_matches(const std::string& continuation, const std::string& answer) {
  size_t i = 0;
  while (i < continuation.size() && std::isspace(static_cast<unsigned char>(continuation[i]))) ++i;
  size_t j = i;
  while (j < continuation.size() && std::isdigit(static_cast<unsigned char>(continuation[j]))) ++j;
  return !answer.empty() && continuation.substr(i, j - i) == answer;
}

}  // namespace halo::eval
