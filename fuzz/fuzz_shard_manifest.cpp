// Fuzz target: manifest.json of a token-shard set (data/shard_manifest.h), read from a file as
// the loaders do. A manifest that loads must write back to JSON that loads to the same.
#include "data/shard_manifest.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = halo::fuzz::write_scratch("manifest.json", data, size);
  halo::fuzz::refusing([&] {
    const auto m = halo::data::Manifest::read(path);
    (void)m.dataset_id();
    const nlohmann::json j = m.to_json();
    halo::fuzz::invariant(halo::data::Manifest::from_json(j, "written").to_json() == j,
                          "Manifest round trip");
  });
  return 0;
}
