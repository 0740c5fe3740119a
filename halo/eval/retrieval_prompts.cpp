// Implementation of retrieval_prompts.h.
#include "halo/eval/retrieval_prompts.h"

#include "common/error.h"
#include "halo/eval/needle_haystack.h"
#include "halo/eval/seeded_draw.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>

namespace halo::eval {

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
  SeededDraw draw(sample_seed);
  RetrievalSample s;
  std::vector<Needle> needles;
  std::string question;
  if (task == RetrievalTask::kPasskey) {
    s.answer = draw.digits(5);
    needles.push_back({tokenizer.encode("\nThe pass key is " + s.answer + ". Remember it.\n")});
    question = "\nWhat is the pass key? The pass key is";
  } else {
    std::vector<std::string> keys, values;
    while (static_cast<int64_t>(keys.size()) < num_kv_pairs) {
      auto key = draw.letters(4);
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      keys.push_back(key);
      values.push_back(draw.digits(5));
      needles.push_back(
          {tokenizer.encode("\nThe value of key " + key + " is " + values.back() + ".\n")});
    }
    const auto asked = draw.below(keys.size());
    s.answer = values[asked];
    question =
        "\nWhat is the value of key " + keys[asked] + "? The value of key " + keys[asked] + " is";
  }
  const auto intro = tokenizer.encode(kRecallInstruction);
  const auto ask = tokenizer.encode(question);
  // The length check comes before the depth draws (as the task always did).
  const int64_t fixed = haystack_overhead(intro, needles, ask);
  HALO_CHECK(context_length > fixed, name, " retrieval: context length ", context_length,
             " is too short; the instruction, needles and question alone take ", fixed,
             " tokens. HINT: use a context length of at least ", 2 * fixed);
  for (auto& n : needles) {
    n.depth = draw.unit();
    s.depths.push_back(n.depth);
  }
  const uint64_t offset = draw.below(filler.size());
  s.prompt = build_haystack_prompt(name + " retrieval", intro, needles, ask, filler, offset,
                                   context_length);
  return s;
}

std::vector<int64_t> filler_from_texts(const data::Tokenizer& tokenizer,
                                       const std::vector<std::string>& texts) {
  std::vector<int64_t> out;
  const auto sep = tokenizer.encode("\n\n");
  for (size_t i = 0; i < texts.size(); ++i) {
    if (i > 0) out.insert(out.end(), sep.begin(), sep.end());
    const auto ids = tokenizer.encode(texts[i]);
    out.insert(out.end(), ids.begin(), ids.end());
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
