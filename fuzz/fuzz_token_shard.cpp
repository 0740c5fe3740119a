// Fuzz target: an HDF5 token shard (data/token_shard_file.h) opened against the counts its
// manifest gives. Structure-aware: the input chooses what the project's writer puts in a shard
// and how the file and the manifest lie afterwards, and the reader must refuse every lie with a
// HaloError. Input (little-endian): 1 byte dtype (even: uint16, odd: uint32), 4 bytes documents
// claimed, 8 bytes tokens claimed, 4 bytes cut (nonzero: the file is truncated to cut % size
// bytes), 1 byte document count d (1 + byte % 8), then uint32 words: the token ids (masked to
// the dtype), whose values also place the d - 1 inner document offsets (in any order, so
// offsets may decrease). HDF5's own parsing of corrupt metadata is not fuzzed here: libhdf5
// 1.10.8 crashes on some corrupt files (docs/reliability.md).
#include "data/token_shard_file.h"
#include "fuzz/fuzz_support.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHead = 18;
  if (size < kHead + 4) return 0;
  const bool wide = data[0] % 2;
  const std::string dtype = wide ? "uint32" : "uint16";
  uint32_t documents = 0, cut = 0;
  int64_t tokens = 0;
  std::memcpy(&documents, data + 1, 4);
  std::memcpy(&tokens, data + 5, 8);
  std::memcpy(&cut, data + 13, 4);
  const size_t d = 1 + data[17] % 8;
  std::vector<uint32_t> ids((size - kHead) / 4);
  std::memcpy(ids.data(), data + kHead, ids.size() * 4);
  if (!wide) {
    for (auto& id : ids) id &= 0xffff;
  }
  std::vector<int64_t> offsets = {0};
  for (size_t i = 1; i < d; ++i) offsets.push_back(ids[i % ids.size()] % (ids.size() + 1));
  offsets.push_back(static_cast<int64_t>(ids.size()));

  const std::string path = halo::fuzz::scratch_dir() + "/shard.h5";
  halo::data::write_token_shard(path, ids, offsets, dtype);  // valid input: must not throw
  if (cut != 0) {
    struct stat st {};
    halo::fuzz::invariant(::stat(path.c_str(), &st) == 0 && st.st_size > 0 &&
                              ::truncate(path.c_str(), cut % st.st_size) == 0,
                          "truncate the shard");
  }
  halo::fuzz::refusing([&] {
    const halo::data::TokenShardFile shard(path, dtype, documents, tokens);
    using halo::fuzz::invariant;
    invariant(shard.num_documents() == documents && shard.num_tokens() == tokens,
              "counts as the manifest says");
    const auto& offs = shard.doc_offsets();
    std::vector<int64_t> out;
    for (size_t i = 1; i < offs.size(); ++i) {
      invariant(offs[i - 1] >= 0 && offs[i] >= offs[i - 1] && offs[i] <= tokens,
                "document inside the tokens");
      out.resize(static_cast<size_t>(offs[i] - offs[i - 1]));
      shard.copy_tokens(offs[i - 1], offs[i] - offs[i - 1], out.data());
      for (size_t k = 0; k < out.size(); ++k) {
        invariant(out[k] == ids[static_cast<size_t>(offs[i - 1]) + k], "tokens read back");
      }
    }
  });
  return 0;
}
