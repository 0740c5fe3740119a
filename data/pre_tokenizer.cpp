// Implementation of pre_tokenizer.h. The split behaviours follow `tokenizers`' normalizer.rs
// (NormalizedString::split); matches come from regex.h's Oniguruma-compatible find_all.
#include "data/pre_tokenizer.h"

#include "common/error.h"
#include "data/tokenizer_json.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace halo::data {

using halo::JsonFields;
using namespace tokenizer_json;  // NOLINT: the file's JSON helpers

struct PreTokenizer::Step {
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  std::unique_ptr<Regex> regex;  // null: no split (ByteLevel without use_regex)
  Behavior behavior = Behavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel only
};

namespace {

// GPT-2's pre-tokenization regex: what ByteLevel runs when its use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

PreTokenizer::Step::Behavior parse_behavior(const std::string& s, const std::string& where) {
  using B = PreTokenizer::Step::Behavior;
  if (s == "Removed") return B::kRemoved;
  if (s == "Isolated") return B::kIsolated;
  if (s == "MergedWithPrevious") return B::kMergedWithPrevious;
  if (s == "MergedWithNext") return B::kMergedWithNext;
  if (s == "Contiguous") return B::kContiguous;
  HALO_FAIL(where, " is \"", s,
            "\"; expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
}

struct Span {
  size_t begin, end;
  bool flag;  // is a match (before the behavior is applied), or to remove (after)
};

// Scratch space of one split() call.
struct SplitScratch {
  std::vector<std::pair<size_t, size_t>> matches;
  std::vector<Span> spans, kept;
};

// One Split step on one piece, as NormalizedString::split in `tokenizers`.
void split_piece(const PreTokenizer::Step& step, std::string_view piece,
                 std::vector<std::string_view>* out, SplitScratch* s) {
  if (piece.empty()) return;
  s->matches.clear();
  step.regex->find_all(piece, &s->matches);
  s->spans.clear();
  size_t prev = 0;
  for (const auto& [b, e] : s->matches) {
    if (prev != b) s->spans.push_back({prev, b, false});
    s->spans.push_back({b, e, true});
    prev = e;
  }
  if (prev != piece.size()) s->spans.push_back({prev, piece.size(), false});
  if (step.invert) {
    for (auto& sp : s->spans) sp.flag = !sp.flag;
  }
  auto& kept = s->kept;
  kept.clear();
  using B = PreTokenizer::Step::Behavior;
  switch (step.behavior) {
    case B::kIsolated:
      for (const auto& sp : s->spans) kept.push_back({sp.begin, sp.end, false});
      break;
    case B::kRemoved:
      kept = s->spans;
      break;
    case B::kContiguous: {
      bool previous_match = false;
      for (const auto& sp : s->spans) {
        if (sp.flag == previous_match && !kept.empty()) {
          kept.back().end = sp.end;
        } else {
          kept.push_back({sp.begin, sp.end, false});
        }
        previous_match = sp.flag;
      }
      break;
    }
    case B::kMergedWithPrevious: {
      bool previous_match = false;
      for (const auto& sp : s->spans) {
        if (sp.flag && !previous_match && !kept.empty()) {
          kept.back().end = sp.end;
        } else {
          kept.push_back({sp.begin, sp.end, false});
        }
        previous_match = sp.flag;
      }
      break;
    }
    case B::kMergedWithNext: {
      bool previous_match = false;
      for (auto it = s->spans.rbegin(); it != s->spans.rend(); ++it) {
        if (it->flag && !previous_match && !kept.empty()) {
          kept.back().begin = it->begin;
        } else {
          kept.push_back({it->begin, it->end, false});
        }
        previous_match = it->flag;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
  }
  for (const auto& sp : kept) {
    if (!sp.flag && sp.end > sp.begin) out->push_back(piece.substr(sp.begin, sp.end - sp.begin));
  }
}

}  // namespace

PreTokenizer::PreTokenizer(const json& j, const std::string& file) {
  HALO_CHECK(!j.is_null(), at_key(file, "pre_tokenizer"),
             " is null; a byte-level BPE tokenizer needs a ByteLevel pre-tokenizer");
  HALO_CHECK(j.is_object(), at_key(file, "pre_tokenizer"), ": expected an object, found ",
             type_name(j));
  std::vector<std::pair<const json*, std::string>> steps;  // (object, key path)
  if (fields_at(j, file, "pre_tokenizer").require_string("type") == "Sequence") {
    HALO_CHECK(j.contains("pretokenizers") && j.at("pretokenizers").is_array(),
               at_key(file, "pre_tokenizer.pretokenizers"), ": expected an array");
    const json& list = j.at("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i) {
      steps.emplace_back(&list[i], str_cat("pre_tokenizer.pretokenizers[", i, "]"));
    }
  } else {
    steps.emplace_back(&j, "pre_tokenizer");
  }
  bool has_byte_level = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& s = *steps[i].first;
    const std::string& key = steps[i].second;
    HALO_CHECK(s.is_object(), at_key(file, key), ": expected an object, found ", type_name(s));
    const JsonFields f = fields_at(s, file, key);
    const std::string type = f.require_string("type");
    auto step = std::make_unique<Step>();
    if (type == "Split") {
      const json& pattern = require_object(s, "pattern", file, key + ".pattern");
      if (pattern.contains("Regex") && pattern.at("Regex").is_string()) {
        step->regex = std::make_unique<Regex>(Regex::from_onig(
            pattern.at("Regex").get<std::string>(), at_key(file, key + ".pattern.Regex")));
      } else if (pattern.contains("String") && pattern.at("String").is_string()) {
        step->regex = std::make_unique<Regex>(Regex::literal(
            pattern.at("String").get<std::string>(), at_key(file, key + ".pattern.String")));
      } else {
        HALO_FAIL(at_key(file, key + ".pattern"),
                  ": expected {\"Regex\": \"...\"} or {\"String\": \"...\"}, found ",
                  pattern.dump());
      }
      step->behavior =
          parse_behavior(f.require_string("behavior"), at_key(file, key + ".behavior"));
      step->invert = f.get_bool("invert", false);
    } else if (type == "ByteLevel") {
      HALO_CHECK(i + 1 == steps.size(), at_key(file, key),
                 ": ByteLevel must be the last pre-tokenizer of the sequence (later steps would "
                 "see byte-level characters); this layout is not supported");
      has_byte_level = true;
      step->add_prefix_space = f.get_bool("add_prefix_space", true);
      if (f.get_bool("use_regex", true)) {
        step->regex = std::make_unique<Regex>(
            Regex::from_onig(kGpt2Pattern, at_key(file, key) + " (GPT-2 regex)"));
      }
    } else if (type == "Digits") {
      step->regex = std::make_unique<Regex>("\\p{N}", at_key(file, key));
      step->behavior = f.get_bool("individual_digits", false) ? Step::Behavior::kIsolated
                                                              : Step::Behavior::kContiguous;
    } else {
      HALO_FAIL(at_key(file, key + ".type"), " is \"", type,
                "\"; supported pre-tokenizers: Split, Digits, ByteLevel and a Sequence of them "
                "(byte-level BPE as in Qwen, GPT-2, Llama-3). For SentencePiece-style models use "
                "their tokenizer.model");
    }
    steps_.push_back(std::move(step));
  }
  HALO_CHECK(has_byte_level, at_key(file, "pre_tokenizer"),
             " has no ByteLevel step: only byte-level BPE tokenizer.json files are supported");
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>* words,
                         std::deque<std::string>* storage) const {
  SplitScratch scratch;
  std::vector<std::string_view> current{text}, next;
  for (const auto& step : steps_) {
    next.clear();
    for (std::string_view piece : current) {
      if (piece.empty()) continue;
      if (step->add_prefix_space && piece[0] != ' ') {
        storage->push_back(" " + std::string(piece));
        piece = storage->back();
      }
      if (step->regex) {
        split_piece(*step, piece, &next, &scratch);
      } else {
        next.push_back(piece);
      }
    }
    current.swap(next);
  }
  words->insert(words->end(), current.begin(), current.end());
}

}  // namespace halo::data
