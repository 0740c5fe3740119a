// Entry point of the [cuda] test binary. Listing (CTest's discovery at build time) works on any
// machine; running exits 77, which CTest reports as "skipped", when no CUDA device is present
// (the dev/CI machines), or when every selected test case needs more GPUs than the host has
// (tag [2gpu]). A run that selects some [2gpu] cases on a one-GPU host runs the others and names
// the ones it left out, so a multi-GPU test is never counted as passed where it did not run.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <torch/cuda.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

bool lists_only(const Catch::ConfigData& c) {
  return c.listTests || c.listTestNamesOnly || c.listTags || c.listReporters;
}

bool needs_two_gpus(const Catch::TestCase& t) {
  for (const auto& tag : t.tags)
    if (tag == "2gpu") return true;
  return false;
}

}  // namespace

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  if (lists_only(session.configData()) || session.configData().showHelp) return session.run();
  if (!torch::cuda::is_available()) {
    std::printf("no CUDA device: skipping the [cuda] tests\n");
    return 77;
  }
  const int64_t gpus = torch::cuda::device_count();
  if (gpus >= 2) return session.run();

  const auto& config = session.config();
  const auto selected =
      Catch::filterTests(Catch::getAllTestCasesSorted(config), config.testSpec(), config);
  std::vector<std::string> left_out;
  for (const auto& t : selected)
    if (needs_two_gpus(t)) left_out.push_back(t.name);
  if (left_out.empty()) return session.run();
  if (left_out.size() == selected.size()) {
    std::printf("skipped: needs 2 CUDA devices, this host has %lld\n",
                static_cast<long long>(gpus));
    return 77;
  }
  for (const auto& name : left_out)
    std::printf("skipped (needs 2 CUDA devices, this host has %lld): %s\n",
                static_cast<long long>(gpus), name.c_str());
  // AND "not [2gpu]" into every test spec the user gave (or select everything else).
  Catch::ConfigData data = session.configData();
  if (data.testsOrTags.empty()) data.testsOrTags.push_back("*");
  for (auto& spec : data.testsOrTags) spec += "~[2gpu]";
  session.useConfigData(data);
  return session.run();
}
