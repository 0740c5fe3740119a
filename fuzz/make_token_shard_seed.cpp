// make_token_shard_seed OUT uint16|uint32: writes a seed of fuzz_token_shard (its input layout is
// in fuzz_token_shard.cpp): a truthful manifest (4 documents, 23 tokens), no truncation, and 23
// token ids whose values place the inner document offsets at 5, 5 and 17. The seeds in
// fuzz/corpus/token_shard/ came from `build-fuzz/fuzz/make_token_shard_seed OUT DTYPE`.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_token_shard_seed OUT uint16|uint32\n");
    return 2;
  }
  const bool wide = std::string(argv[2]) == "uint32";
  std::vector<uint32_t> ids(23);
  for (uint32_t i = 0; i < ids.size(); ++i) ids[i] = (i * 7919u) % (wide ? 100000u : 60000u);
  // Offsets i = 1..3 come from ids[i] % 24: make them 5, 5, 17.
  ids[1] = 24 * 3 + 5;
  ids[2] = 24 * 7 + 5;
  ids[3] = 24 * 11 + 17;
  std::string out(18, '\0');
  out[0] = wide ? 1 : 0;
  const uint32_t documents = 4, cut = 0;
  const int64_t tokens = 23;
  std::memcpy(&out[1], &documents, 4);
  std::memcpy(&out[5], &tokens, 8);
  std::memcpy(&out[13], &cut, 4);
  out[17] = 3;  // 1 + 3 % 8 = 4 documents
  out.append(reinterpret_cast<const char*>(ids.data()), ids.size() * 4);
  std::ofstream(argv[1], std::ios::binary) << out;
  std::printf("%zu bytes\n", out.size());
  return 0;
}
