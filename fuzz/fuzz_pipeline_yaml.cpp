// Fuzz target: a pipeline YAML with --set overrides (halo/config/pipeline_config.h), read from a
// file as `halo-distill run` does. The input is the YAML text; a line "#--set" starts the
// overrides, one KEY.PATH=VALUE per line after it. A config that loads must print its resolved
// tree and give each stage a hash.
#include "fuzz/fuzz_support.h"
#include "halo/config/pipeline_config.h"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string marker = "#--set\n";
  const size_t cut = input.find(marker);
  const std::string yaml = input.substr(0, cut);
  std::vector<std::string> overrides;
  if (cut != std::string::npos) {
    size_t pos = cut + marker.size();
    while (pos < input.size()) {
      size_t end = input.find('\n', pos);
      if (end == std::string::npos) end = input.size();
      overrides.push_back(input.substr(pos, end - pos));
      pos = end + 1;
    }
  }
  const std::string path = halo::fuzz::write_scratch(
      "pipeline.yaml", reinterpret_cast<const uint8_t*>(yaml.data()), yaml.size());
  halo::fuzz::refusing([&] {
    const auto p = halo::config::load_pipeline_config(path, overrides);
    (void)p.to_json().dump();
    for (size_t i = 0; i < p.stages.size(); ++i) (void)p.stage_hash(i);
  });
  return 0;
}
