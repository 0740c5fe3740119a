// Implementation of unicode.h. Normalization is utf8proc's (Debian's libutf8proc-dev).
#include "data/unicode.h"

#include "common/error.h"

#include <utf8proc.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace halo::data {

bool is_ascii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  // Eight bytes at a time: any byte with its high bit set makes the text non-ASCII.
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & 0x8080808080808080ull) return false;
  }
  for (; n > 0; ++p, --n) {
    if (static_cast<unsigned char>(*p) & 0x80) return false;
  }
  return true;
}

size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Skip ASCII eight bytes at a time.
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;  // continuation byte, overlong 2-byte lead (C0, C1) or F5..FF
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

std::string utf8_lossy(std::string_view s) {
  if (find_invalid_utf8(s) == std::string_view::npos) return std::string(s);
  static const char kReplacement[] = "\xEF\xBF\xBD";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  std::string out;
  out.reserve(n + 8);
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t need;                         // continuation bytes after the lead
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      out += kReplacement;  // a byte that never starts a character
      ++i;
      continue;
    }
    size_t k = 1;
    while (k <= need && i + k < n) {
      const unsigned char b = p[i + k];
      const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
      if (!ok) break;
      ++k;
    }
    if (k == need + 1) {
      out.append(s.data() + i, k);
    } else {
      out += kReplacement;  // the lead and the valid continuation bytes seen: one U+FFFD
    }
    i += k;
  }
  return out;
}

size_t next_code_point(std::string_view s, size_t pos, uint32_t* code_point) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  const unsigned char c = p[0];
  if (c < 0x80) {
    *code_point = c;
    return 1;
  }
  if (c < 0xE0) {
    *code_point = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    return 2;
  }
  if (c < 0xF0) {
    *code_point = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    return 3;
  }
  *code_point =
      ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
  return 4;
}

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string normalize_unicode(std::string_view s, NormalForm form) {
  // ASCII is invariant under all four forms (the common case: skip the library call).
  if (is_ascii(s)) return std::string(s);
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::kNFC:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormalForm::kNFD:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormalForm::kNFKC:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormalForm::kNFKD:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &result,
                                          static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(result, &std::free);
  HALO_CHECK(n >= 0, "Unicode normalization failed: ", utf8proc_errmsg(n));
  return std::string(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
}

namespace {

// Code points assigned after Unicode 9.0.0 that matter to normalization (inclusive ranges).
constexpr uint32_t kPostUnicode9[][2] = {
#include "data/unicode9_compat_table.inc"
};

bool is_post_unicode9(uint32_t cp) {
  if (cp < kPostUnicode9[0][0]) return false;
  size_t lo = 0, hi = sizeof(kPostUnicode9) / sizeof(kPostUnicode9[0]);
  while (lo < hi) {  // first range whose end is >= cp
    const size_t mid = (lo + hi) / 2;
    if (kPostUnicode9[mid][1] < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < sizeof(kPostUnicode9) / sizeof(kPostUnicode9[0]) && kPostUnicode9[lo][0] <= cp;
}

}  // namespace

std::string normalize_unicode_v9(std::string_view s, NormalForm form) {
  if (is_ascii(s)) return std::string(s);
  std::string out;
  size_t piece_start = 0;
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t len = next_code_point(s, i, &cp);
    if (is_post_unicode9(cp)) {
      // Unknown to Unicode 9.0: an inert starter there. Normalize up to it, copy it as is.
      out += normalize_unicode(s.substr(piece_start, i - piece_start), form);
      out.append(s, i, len);
      piece_start = i + len;
    }
    i += len;
  }
  if (piece_start == 0) return normalize_unicode(s, form);
  out += normalize_unicode(s.substr(piece_start), form);
  return out;
}

namespace {

struct ByteTables {
  std::array<uint32_t, 256> to_unicode{};
  // Every code point of the alphabet is below 0x144 (0x100 + 68).
  std::array<int16_t, 0x144> to_byte{};

  ByteTables() {
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    uint32_t next = 0x100;
    for (int b = 0; b < 256; ++b) to_unicode[b] = printable(b) ? b : next++;
    to_byte.fill(-1);
    for (int b = 0; b < 256; ++b) to_byte[to_unicode[b]] = static_cast<int16_t>(b);
  }
};

const ByteTables& byte_tables() {
  static const ByteTables tables;
  return tables;
}

}  // namespace

const std::array<uint32_t, 256>& byte_to_unicode() {
  return byte_tables().to_unicode;
}

int unicode_to_byte(uint32_t cp) {
  const auto& t = byte_tables().to_byte;
  return cp < t.size() ? t[cp] : -1;
}

}  // namespace halo::data
