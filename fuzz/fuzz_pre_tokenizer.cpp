// Fuzz target: the BPE pre-tokenizer's regex path (data/pre_tokenizer.h, data/regex.h on PCRE2)
// on arbitrary valid UTF-8, with the pre-tokenizers of Qwen2/3, GPT-2 and Llama-3 and a Digits
// step. None of them drops or adds text here, so the words must concatenate to the input.
#include "data/pre_tokenizer.h"
#include "data/unicode.h"
#include "fuzz/fuzz_support.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <vector>

namespace {

using nlohmann::json;

std::vector<std::unique_ptr<halo::data::PreTokenizer>> make_pre_tokenizers() {
  const std::string qwen_regex =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const std::string llama3_regex =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const json byte_level = {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", false},
                           {"use_regex", false}};
  auto split = [](const std::string& regex) {
    return json{{"type", "Split"},
                {"pattern", {{"Regex", regex}}},
                {"behavior", "Isolated"},
                {"invert", false}};
  };
  const json configs[] = {
      {{"type", "Sequence"}, {"pretokenizers", {split(qwen_regex), byte_level}}},
      {{"type", "Sequence"}, {"pretokenizers", {split(llama3_regex), byte_level}}},
      {{"type", "ByteLevel"},
       {"add_prefix_space", false},
       {"trim_offsets", true},
       {"use_regex", true}},
      {{"type", "Sequence"},
       {"pretokenizers",
        {{{"type", "Digits"}, {"individual_digits", true}},
         {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", true},
          {"use_regex", true}}}}},
  };
  std::vector<std::unique_ptr<halo::data::PreTokenizer>> out;
  for (const json& c : configs) {
    out.push_back(std::make_unique<halo::data::PreTokenizer>(c, "fuzz_pre_tokenizer"));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto pre_tokenizers = make_pre_tokenizers();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (halo::data::find_invalid_utf8(text) != std::string_view::npos) return 0;  // not its input
  for (const auto& pre : pre_tokenizers) {
    halo::fuzz::refusing([&] {
      std::vector<std::string_view> words;
      std::deque<std::string> storage;
      pre->split(text, &words, &storage);
      std::string joined;
      for (auto w : words) joined += w;
      halo::fuzz::invariant(joined == text, "words concatenate to the text");
    });
  }
  return 0;
}
