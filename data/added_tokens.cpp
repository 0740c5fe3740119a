// Implementation of added_tokens.h. Word and white-space characters for `single_word`, `lstrip`
// and `rstrip` follow the Rust regex classes `tokenizers` uses (\w, \s), from Unicode general
// categories: word = L*, M*, Nd, Nl, Pc; white space = U+0009..U+000D, U+0085, Z*.
#include "data/added_tokens.h"

#include "data/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <cctype>

namespace halo::data {

namespace {

bool is_word_char(uint32_t cp) {
  if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) || cp == '_';
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

bool is_space_char(uint32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85) return true;
  if (cp < 0x80) return false;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

// Start of the code point that ends right before byte `pos` (pos > 0).
size_t previous_code_point_start(std::string_view s, size_t pos) {
  size_t i = pos - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

uint32_t code_point_at(std::string_view s, size_t pos) {
  uint32_t cp = 0;
  next_code_point(s, pos, &cp);
  return cp;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) {
  for (auto& t : tokens) {
    if (!t.content.empty()) tokens_.push_back(std::move(t));
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(
        static_cast<int32_t>(i));
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](int32_t a, int32_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextSegment>* out) const {
  const size_t n = text.size();
  size_t segment_start = 0;  // end of the previous token (start of pending plain text)
  size_t pos = 0;
  while (pos < n) {
    const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[pos])];
    const AddedToken* match = nullptr;
    for (int32_t index : candidates) {
      const std::string& c = tokens_[index].content;
      if (c.size() <= n - pos && text.compare(pos, c.size(), c) == 0) {
        match = &tokens_[index];
        break;  // longest first
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + match->content.size();
    pos = stop;  // the scan resumes after this match whether or not it is kept
    if (match->single_word) {
      const bool word_before =
          start > 0 && is_word_char(code_point_at(text, previous_code_point_start(text, start)));
      const bool word_after = stop < n && is_word_char(code_point_at(text, stop));
      if (word_before || word_after) continue;
    }
    if (match->lstrip) {
      size_t s = start;
      while (s > 0) {
        const size_t prev = previous_code_point_start(text, s);
        if (!is_space_char(code_point_at(text, prev))) break;
        s = prev;
      }
      start = std::max(s, segment_start);
    }
    if (match->rstrip) {
      while (stop < n) {
        uint32_t cp = 0;
        const size_t len = next_code_point(text, stop, &cp);
        if (!is_space_char(cp)) break;
        stop += len;
      }
      pos = stop;
    }
    if (segment_start < start) out->push_back({segment_start, start, -1});
    out->push_back({start, stop, match->id});
    segment_start = stop;
  }
  if (segment_start < n) out->push_back({segment_start, n, -1});
}

}  // namespace halo::data
