// Fuzz target: encoding arbitrary bytes with a loaded tokenizer (HfBpeTokenizer::encode and
// decode). The tokenizer is fuzz/corpus/tokenizer_encode.json: byte-level BPE over all 256 bytes,
// GPT-2 regex, added tokens, no normalizer, so decode(encode(x)) == x must hold for every valid
// UTF-8 x; invalid UTF-8 must be refused with a HaloError.
#include "data/hf_bpe_tokenizer.h"
#include "data/unicode.h"
#include "fuzz/fuzz_support.h"

#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tok = std::make_unique<halo::data::HfBpeTokenizer>(
      halo::fuzz::source_dir() + "/fuzz/corpus/tokenizer_encode.json");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = halo::data::find_invalid_utf8(text) == std::string_view::npos;
  halo::fuzz::refusing([&] {
    const std::vector<int64_t> ids = tok->encode(text);
    halo::fuzz::invariant(valid, "invalid UTF-8 refused");
    for (int64_t id : ids) {
      halo::fuzz::invariant(id >= 0 && id < tok->vocab_size(), "encoded id inside the vocabulary");
    }
    halo::fuzz::invariant(tok->decode(ids) == text, "decode(encode(x)) == x");
  });
  return 0;
}
