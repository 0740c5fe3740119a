// Entry point of the [cuda] test binary: exits 77, which CTest reports as "skipped", when no
// CUDA device is present (the dev/CI machines); otherwise runs every test case tagged [cuda].
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <torch/cuda.h>

#include <cstdio>

int main(int argc, char* argv[]) {
  if (!torch::cuda::is_available()) {
    std::printf("no CUDA device: skipping the [cuda] tests\n");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
