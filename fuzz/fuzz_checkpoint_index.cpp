// Fuzz target: model.safetensors.index.json of a sharded checkpoint (parse_checkpoint_index in
// hypenet/safetensors_header.h). Every shard it accepts must be a plain file name in the folder.
#include "fuzz/fuzz_support.h"
#include "hypenet/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  halo::fuzz::refusing([&] {
    const std::string text(reinterpret_cast<const char*>(data), size);
    for (const auto& [tensor, shard] :
         halo::hypenet::parse_checkpoint_index("fuzz/model.safetensors.index.json", text)) {
      halo::fuzz::invariant(
          !shard.empty() && shard.find('/') == std::string::npos && shard != "." && shard != "..",
          "shard is a plain file name");
    }
  });
  return 0;
}
