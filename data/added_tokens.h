// AddedTokenMatcher: finds the added and special tokens of a tokenizer.json ("<|im_start|>",
// "<|endoftext|>", "<think>", ...) in text before pre-tokenization, as `tokenizers`'
// AddedVocabulary does: leftmost-longest matches, scanned left to right without overlap, with the
// `single_word`, `lstrip` and `rstrip` flags of each token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace halo::data {

struct AddedToken {
  std::string content;  // the text matched (already normalized when `normalized`)
  int64_t id = -1;
  bool single_word = false;  // match only when not inside a word
  bool lstrip = false;       // the token absorbs the white space on its left
  bool rstrip = false;       // ... and on its right
  bool normalized = true;    // matched in normalized text (else in the raw text)
  bool special = false;
};

// A piece of text: either plain text (token < 0) or one added token's id.
struct TextSegment {
  size_t begin = 0, end = 0;  // byte offsets
  int64_t token = -1;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  bool empty() const { return tokens_.empty(); }

  // Cuts `text` (valid UTF-8) into consecutive segments covering all of it (none when empty).
  void split(std::string_view text, std::vector<TextSegment>* out) const;

 private:
  std::vector<AddedToken> tokens_;
  // Indices into tokens_ by first byte, longest content first.
  std::vector<int32_t> by_first_byte_[256];
};

}  // namespace halo::data
