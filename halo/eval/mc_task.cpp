// Implementation of mc_task.h.
#include "halo/eval/mc_task.h"

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <fstream>

namespace halo::eval {

namespace {

McItem parse_mc_line(const std::string& line, const std::string& where) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  HALO_CHECK(!j.is_discarded() && j.is_object(), where,
             ": not a JSON object; expected {\"context\": \"...\", \"choices\": [\"...\", "
             "\"...\"], \"label\": 0}");
  McItem item;
  item.source = where;
  HALO_CHECK(j.contains("context") && j["context"].is_string(), where,
             ": 'context' must be a string");
  item.context = j["context"].get<std::string>();
  HALO_CHECK(!item.context.empty(), where,
             ": 'context' is empty; the first choice token needs a context to follow");
  HALO_CHECK(j.contains("choices") && j["choices"].is_array() && j["choices"].size() >= 2, where,
             ": 'choices' must be a list of at least 2 strings");
  for (const auto& c : j["choices"]) {
    HALO_CHECK(c.is_string() && !c.get<std::string>().empty(), where,
               ": every choice must be a non-empty string");
    item.choices.push_back(c.get<std::string>());
  }
  HALO_CHECK(j.contains("label") && j["label"].is_number_integer(), where,
             ": 'label' must be an integer (the index of the right choice)");
  item.label = j["label"].get<int64_t>();
  HALO_CHECK(item.label >= 0 && item.label < static_cast<int64_t>(item.choices.size()), where,
             ": 'label' is ", item.label, " but there are ", item.choices.size(),
             " choices (0-based index)");
  return item;
}

}  // namespace

std::vector<McItem> read_mc_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  HALO_CHECK(in.good(), path.string(), ": cannot open the multiple-choice file");
  std::vector<McItem> items;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    items.push_back(parse_mc_line(line, path.string() + ":" + std::to_string(n)));
  }
  HALO_CHECK(!items.empty(), path.string(),
             ": no items (one JSON object per line: context, choices, label)");
  return items;
}

std::string mc_task_name(const std::filesystem::path& path) {
  return "mc:" + path.stem().string();
}

double choice_log_likelihood(TaskModel& model, const std::vector<int64_t>& context_ids,
                             const std::vector<int64_t>& choice_ids) {
  HALO_CHECK(!context_ids.empty() && !choice_ids.empty(),
             "choice_log_likelihood: the context and the choice need at least one token each");
  std::vector<int64_t> ids = context_ids;
  ids.insert(ids.end(), choice_ids.begin(), choice_ids.end());
  auto logp = model.next_token_log_probs(ids);  // [T - 1]: entry t predicts ids[t + 1]
  const auto first = static_cast<int64_t>(context_ids.size()) - 1;
  return logp.narrow(0, first, static_cast<int64_t>(choice_ids.size())).sum().item<double>();
}

McScore evaluate_mc(TaskModel& model, const data::Tokenizer& tokenizer,
                    const std::vector<McItem>& items) {
  McScore s;
  int64_t hits = 0, hits_norm = 0;
  for (const auto& item : items) {
    const auto context = tokenizer.encode(item.context);
    HALO_CHECK(!context.empty(), item.source, ": the context encodes to no tokens");
    // Every choice of the item in one call (the model may score them together).
    std::vector<std::vector<int64_t>> seqs;
    std::vector<size_t> choice_tokens;
    for (size_t c = 0; c < item.choices.size(); ++c) {
      const auto choice = tokenizer.encode(item.choices[c]);
      HALO_CHECK(!choice.empty(), item.source, ": choice ", c, " encodes to no tokens");
      seqs.push_back(context);
      seqs.back().insert(seqs.back().end(), choice.begin(), choice.end());
      choice_tokens.push_back(choice.size());
    }
    const auto logp = model.next_token_log_probs_batch(seqs);  // [T_c - 1] each
    size_t best = 0, best_norm = 0;
    double best_ll = 0.0, best_norm_ll = 0.0;
    for (size_t c = 0; c < item.choices.size(); ++c) {
      const auto first = static_cast<int64_t>(context.size()) - 1;  // predicts the choice's 1st
      const double ll =
          logp[c].narrow(0, first, static_cast<int64_t>(choice_tokens[c])).sum().item<double>();
      const double norm = ll / static_cast<double>(item.choices[c].size());
      if (c == 0 || ll > best_ll) best = c, best_ll = ll;
      if (c == 0 || norm > best_norm_ll) best_norm = c, best_norm_ll = norm;
    }
    hits += static_cast<int64_t>(best) == item.label;
    hits_norm += static_cast<int64_t>(best_norm) == item.label;
    ++s.items;
  }
  if (s.items > 0) {
    s.acc = static_cast<double>(hits) / static_cast<double>(s.items);
    s.acc_norm = static_cast<double>(hits_norm) / static_cast<double>(s.items);
  }
  return s;
}

}  // namespace halo::eval
