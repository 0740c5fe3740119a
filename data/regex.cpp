// Implementation of regex.h on PCRE2 (8-bit, Debian's libpcre2-dev).
//
// Oniguruma and PCRE2 (with PCRE2_UCP) agree on \p{..}, \d (= \p{Nd}) and (?i) case folding, but
// not on every escape:
//   \s  Oniguruma: U+0009..U+000D, U+0085 and General_Category Z (= the White_Space property);
//       PCRE2 adds U+180E. Rewritten to [\t-\r\x{85}\p{Z}].
//   \w  Oniguruma: Letter | Mark | Number | Connector_Punctuation; PCRE2 10.42: L | N | '_'.
//       Rewritten to [\p{L}\p{M}\p{N}\p{Pc}].
//   \h  Oniguruma: a hexadecimal digit; PCRE2: horizontal white space. Rewritten to [0-9a-fA-F].
// Their negations likewise outside character classes; inside a class \s, \w and \h expand to
// the class items (\S, \W, \H inside a class keep PCRE2's meaning). ^ and $ match at line
// boundaries as in Ruby syntax (PCRE2_MULTILINE). Nested classes are rejected.
#include "data/regex.h"

#include "common/error.h"

#include <pcre2.h>

#include <cctype>

namespace halo::data {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return std::string(reinterpret_cast<const char*>(buffer));
}

// Per-thread match state: PCRE2 match data may not be shared between threads. One ovector pair
// is all find_all needs; the JIT stack grows up to 8 MiB for patterns with deep backtracking.
struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  MatchScratch() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchScratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pcre2_pattern, std::string what)
    : code_(std::make_unique<Code>()), pattern_(pcre2_pattern), what_(std::move(what)) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  code_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error_code, &error_offset, nullptr);
  HALO_CHECK(code_->code != nullptr, what_, ": the regex does not compile with PCRE2 (",
             pcre2_message(error_code), " at offset ", error_offset, " of '", pattern_, "')");
  code_->jit = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

Regex Regex::from_onig(const std::string& onig_pattern, std::string what) {
  return Regex(onig_to_pcre2(onig_pattern, what), std::move(what));
}

Regex Regex::literal(const std::string& text, std::string what) {
  std::string escaped;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) escaped.push_back('\\');
    escaped.push_back(c);
  }
  return Regex(escaped, std::move(what));
}

void Regex::find_all(std::string_view subject,
                     std::vector<std::pair<size_t, size_t>>* matches) const {
  MatchScratch& s = scratch();
  HALO_CHECK(s.data && s.context && s.jit_stack, "PCRE2: out of memory for match data");
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const size_t n = subject.size();
  size_t pos = 0;
  size_t last_match_end = std::string_view::npos;
  while (pos <= n) {
    // The subject was validated as UTF-8 once by the caller; checking it on every call would
    // make the scan quadratic.
    const int rc =
        code_->jit
            ? pcre2_jit_match(code_->code, text, n, pos, PCRE2_NO_UTF_CHECK, s.data, s.context)
            : pcre2_match(code_->code, text, n, pos, PCRE2_NO_UTF_CHECK, s.data, s.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    HALO_CHECK(rc >= 0, what_, ": PCRE2 matching failed (", pcre2_message(rc), ") on a text of ", n,
               " bytes");
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(s.data);
    const size_t start = ovector[0], end = ovector[1];
    if (start == end && end == last_match_end) {
      // Empty match where the previous one ended: step over one character and search again.
      if (pos >= n) break;
      ++pos;
      while (pos < n && (static_cast<unsigned char>(subject[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    matches->emplace_back(start, end);
    last_match_end = end;
    pos = end;
    if (start == end && pos >= n) break;
  }
}

std::string onig_to_pcre2(const std::string& p, const std::string& what) {
  static const char* kSpace = "\\t-\\r\\x{85}\\p{Z}";
  static const char* kWord = "\\p{L}\\p{M}\\p{N}\\p{Pc}";
  static const char* kHex = "0-9a-fA-F";
  std::string out;
  out.reserve(p.size() + 32);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      ++i;
      const char* items = nullptr;
      bool negated = false;
      switch (e) {
        case 's':
          items = kSpace;
          break;
        case 'S':
          items = kSpace;
          negated = true;
          break;
        case 'w':
          items = kWord;
          break;
        case 'W':
          items = kWord;
          negated = true;
          break;
        case 'h':
          items = kHex;
          break;
        case 'H':
          items = kHex;
          negated = true;
          break;
        default:
          break;
      }
      if (items == nullptr || (in_class && negated)) {
        out.push_back(c);
        out.push_back(e);
      } else if (in_class) {
        out += items;
      } else {
        out += negated ? "[^" : "[";
        out += items;
        out += "]";
      }
      continue;
    }
    if (in_class) {
      if (c == '[') {
        HALO_CHECK(i + 1 < p.size() && p[i + 1] == ':', what,
                   ": nested character classes (Oniguruma's [a[b]] or [a&&b]) are not supported "
                   "(at offset ",
                   i, " of '", p, "')");
        // A POSIX class such as [:alpha:]: copy it whole.
        const size_t close = p.find(":]", i + 2);
        HALO_CHECK(close != std::string::npos, what, ": unterminated POSIX class at offset ", i,
                   " of '", p, "'");
        out.append(p, i, close + 2 - i);
        i = close + 1;
        continue;
      }
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    out.push_back(c);
    if (c == '[') {
      in_class = true;
      // A leading '^' and then a leading ']' are part of the class, not its end.
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);
    }
  }
  return out;
}

}  // namespace halo::data
