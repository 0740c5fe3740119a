// Fuzz target: a Hugging Face tokenizer.json (data/hf_bpe_tokenizer.h), read from a file as
// load_tokenizer does: normalizer, pre-tokenizer (its regexes compiled by PCRE2), BPE vocabulary
// and merges, added tokens, decoder. A tokenizer that loads then encodes a fixed mixed-script text
// and decodes the ids; every id must be inside its vocabulary.
#include "data/hf_bpe_tokenizer.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = halo::fuzz::write_scratch("tokenizer.json", data, size);
  halo::fuzz::refusing([&] {
    const halo::data::HfBpeTokenizer tok(path);
    const std::string text =
        "Hello world, it's 2026! <|endoftext|> caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd 12345\n\t x";
    const std::vector<int64_t> ids = tok.encode(text);
    for (int64_t id : ids) {
      halo::fuzz::invariant(id >= 0 && id < tok.vocab_size(), "encoded id inside the vocabulary");
    }
    (void)tok.decode(ids);
    (void)tok.token_to_id("<|endoftext|>");
  });
  return 0;
}
