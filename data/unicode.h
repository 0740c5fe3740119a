// UTF-8 helpers for the tokenizers: validation, code point iteration, Unicode normalization
// forms (through utf8proc), and the GPT-2 byte <-> printable-character table of byte-level BPE.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace halo::data {

// Byte offset of the first invalid UTF-8 sequence in `s` (overlong forms, surrogates and code
// points above U+10FFFF are invalid, as in Rust and Python), or npos when `s` is valid.
size_t find_invalid_utf8(std::string_view s);

bool is_ascii(std::string_view s);

// `s` with each maximal invalid UTF-8 subsequence replaced by U+FFFD, as Rust's
// String::from_utf8_lossy and Python's errors="replace" do; `s` itself when it is valid.
std::string utf8_lossy(std::string_view s);

// Decodes the code point starting at s[pos] of VALID UTF-8; returns its length in bytes.
size_t next_code_point(std::string_view s, size_t pos, uint32_t* code_point);

void append_utf8(uint32_t code_point, std::string* out);

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };

// `s` (valid UTF-8) in the given normalization form (utf8proc: Unicode 15.0 on Debian 12).
std::string normalize_unicode(std::string_view s, NormalForm form);

// The same as Hugging Face `tokenizers` computes it: its normalizers carry Unicode 9.0.0 data, so
// code points assigned later are left as they are and never reordered or composed (e.g. U+10D27,
// a combining mark of Unicode 11). The code points concerned (data/unicode9_compat_table.inc)
// split the text; the pieces between them are normalized with utf8proc.
std::string normalize_unicode_v9(std::string_view s, NormalForm form);

// The byte-level BPE alphabet of GPT-2 (`bytes_to_unicode`): printable bytes '!'..'~',
// 0xA1..0xAC and 0xAE..0xFF map to the same code point; the 68 others, in increasing order, to
// U+0100, U+0101, ... . Every token of a byte-level vocabulary is a string over these 256
// characters.
const std::array<uint32_t, 256>& byte_to_unicode();
// Inverse of byte_to_unicode(): the byte of code point `cp`, or -1 for a character outside the
// alphabet.
int unicode_to_byte(uint32_t cp);

}  // namespace halo::data
