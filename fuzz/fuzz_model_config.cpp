// Fuzz target: config.json of both model families, read from a file as the loaders do
// (Qwen3Config and HypeNetConfig, hypenet/*_config.h). A config that loads must validate, and
// what it writes back must load again to the same JSON.
#include "fuzz/fuzz_support.h"
#include "hypenet/hypenet_config.h"
#include "hypenet/qwen3_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace halo::hypenet;
  const std::string path = halo::fuzz::write_scratch("config.json", data, size);
  halo::fuzz::refusing([&] {
    const Qwen3Config c = Qwen3Config::from_json_file(path);
    c.validate(path);
    (void)c.num_parameters();
    const nlohmann::json j = c.to_json();
    halo::fuzz::invariant(Qwen3Config::from_json(j, "written").to_json() == j,
                          "Qwen3Config round trip");
  });
  halo::fuzz::refusing([&] {
    const HypeNetConfig c = HypeNetConfig::from_json_file(path);
    c.validate(path);
    (void)c.base.num_parameters();
    (void)c.lightning_scale_value();
    const nlohmann::json j = c.to_json();
    halo::fuzz::invariant(HypeNetConfig::from_json(j, "written").to_json() == j,
                          "HypeNetConfig round trip");
  });
  return 0;
}
