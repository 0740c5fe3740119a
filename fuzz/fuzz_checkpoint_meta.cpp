// Fuzz target: a training checkpoint's meta.json (halo/checkpoint/checkpoint_meta.h).
#include "fuzz/fuzz_support.h"
#include "halo/checkpoint/checkpoint_meta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  halo::fuzz::refusing([&] {
    const auto m = halo::checkpoint::parse_checkpoint_meta(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz/step-1/meta.json");
    halo::fuzz::invariant(m.step >= 0 && m.world_size >= 1 && m.extra.is_object(),
                          "meta.json values in range");
  });
  return 0;
}
