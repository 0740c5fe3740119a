// Regex: a PCRE2 pattern compiled for UTF-8 with Unicode properties (PCRE2_UTF | PCRE2_UCP) and
// JIT, used for the split patterns of Hugging Face tokenizers. Those are written for Oniguruma
// (what the `tokenizers` library runs); from_onig() rewrites the escapes whose meaning differs
// between the two engines so that both match the same text (see regex.cpp).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace halo::data {

class Regex {
 public:
  // Compiles a PCRE2 pattern; `what` names it in errors (e.g. "tokenizer.json: key
  // 'pre_tokenizer.pretokenizers[0].pattern.Regex'").
  Regex(const std::string& pcre2_pattern, std::string what);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // A pattern in Oniguruma (Ruby) syntax, as tokenizer.json stores it.
  static Regex from_onig(const std::string& onig_pattern, std::string what);
  // A pattern matching `text` literally.
  static Regex literal(const std::string& text, std::string what);

  // Appends the [start, end) byte offsets of the successive non-overlapping matches in `subject`
  // (valid UTF-8), scanning as Oniguruma's find_iter does: the search restarts at the end of
  // each match, and an empty match right at the end of the previous one is skipped by one
  // character. Lookarounds see the whole subject.
  void find_all(std::string_view subject, std::vector<std::pair<size_t, size_t>>* matches) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::unique_ptr<Code> code_;
  std::string pattern_;
  std::string what_;
};

// The Oniguruma -> PCRE2 rewrite used by Regex::from_onig (exposed for tests).
std::string onig_to_pcre2(const std::string& onig_pattern, const std::string& what);

}  // namespace halo::data
