// PreTokenizer: the "pre_tokenizer" of a byte-level BPE tokenizer.json, cutting normalized text
// into the words BPE runs on, as `tokenizers` does: Split (a regex or a literal, any of the five
// behaviours, optionally inverted), Digits, and ByteLevel (prefix space, GPT-2 regex), alone or
// in a Sequence that ends with ByteLevel. The byte-level character mapping itself is implicit:
// words stay raw UTF-8 bytes (bpe_model.h works on bytes).
#pragma once

#include "data/regex.h"

#include <nlohmann/json_fwd.hpp>

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace halo::data {

class PreTokenizer {
 public:
  // Reads `j` (the value of "pre_tokenizer" in `file`); errors name the file and the key.
  PreTokenizer(const nlohmann::json& j, const std::string& file);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Appends the words of `text` (valid UTF-8) to `words`: views into `text`, or into strings
  // kept in `storage` (ByteLevel's add_prefix_space builds new ones).
  void split(std::string_view text, std::vector<std::string_view>* words,
             std::deque<std::string>* storage) const;

  struct Step;

 private:
  std::vector<std::unique_ptr<Step>> steps_;
};

}  // namespace halo::data
