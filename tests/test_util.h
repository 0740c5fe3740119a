// Helpers shared by the tests: temporary folders, fixture paths, relative-error metrics.
#pragma once

#include <ATen/ATen.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace halo::test {

// A fresh folder under the system temp dir, removed when the object goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "halo-test");
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Folder of the transformers-generated fixtures (env HALO_FIXTURES_DIR, set by CTest).
std::string fixtures_dir();
// Path of the halo-distill binary (env HALO_BINARY, else the one this build made).
std::string halo_binary();
// Path of the tests' halo-dist-selftest binary (env HALO_DIST_SELFTEST, else this build's).
std::string dist_selftest_binary();

// What running the halo-distill binary produced.
struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout, and stderr too when merged
};

// Runs `halo-distill ARGS` through the shell; stderr is merged into output unless
// merge_stderr is false (then it is discarded, for commands whose stdout is parsed).
CliResult run_cli(const std::string& args, bool merge_stderr = true);
// The same for another program of the build (e.g. dist_selftest_binary()).
CliResult run_program(const std::string& program, const std::string& args,
                      bool merge_stderr = true);

// Autocast to bfloat16 on `device` for the scope (as the trainer's bf16 stages run; clears the
// weight-cast cache on exit).
class Autocast {
 public:
  explicit Autocast(c10::DeviceType device);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  c10::DeviceType device_;
};

// Fills the CUDA caching allocator's free memory with NaN (a 256 MiB block, freed again), so that
// an output element a kernel forgets to write stays NaN ([cuda] tests).
void poison_cuda_allocator();

// max |a - b| / max |b| (b is the reference), computed in float64.
double max_rel_error(const at::Tensor& a, const at::Tensor& ref);

}  // namespace halo::test
