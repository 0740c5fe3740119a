// Implementation of test_util.h.
#include "tests/test_util.h"

#include "common/remove_tree.h"

#include <ATen/autocast_mode.h>
#include <sys/wait.h>

#include <array>

#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>

namespace halo::test {

TempDir::TempDir(const std::string& tag) {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = std::filesystem::temp_directory_path() /
                     (tag + "-" + std::to_string(rd()) + std::to_string(attempt));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("could not create a temporary folder");
}

TempDir::~TempDir() {
  halo::remove_tree(path_.string());  // not std::filesystem::remove_all: see remove_tree.h
}

static std::string env_or_throw(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v)
    throw std::runtime_error(std::string("environment variable ") + name +
                             " is not set (run the tests through ctest)");
  return v;
}

std::string fixtures_dir() {
  return env_or_throw("HALO_FIXTURES_DIR");
}
// Env `var` when set, else `built` (the path this build gave the program; null when the
// compiler was not told).
static std::string program_path(const char* var, const char* built) {
  if (const char* v = std::getenv(var); v && *v) return v;
  return built ? std::string(built) : env_or_throw(var);
}

#ifndef HALO_BINARY_PATH
#define HALO_BINARY_PATH nullptr
#endif
#ifndef HALO_DIST_SELFTEST_PATH
#define HALO_DIST_SELFTEST_PATH nullptr
#endif

std::string halo_binary() {
  return program_path("HALO_BINARY", HALO_BINARY_PATH);
}

std::string dist_selftest_binary() {
  return program_path("HALO_DIST_SELFTEST", HALO_DIST_SELFTEST_PATH);
}

CliResult run_cli(const std::string& args, bool merge_stderr) {
  return run_program(halo_binary(), args, merge_stderr);
}

CliResult run_program(const std::string& program, const std::string& args, bool merge_stderr) {
  const std::string cmd = program + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  CliResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed for: " + cmd);
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

Autocast::Autocast(c10::DeviceType device) : device_(device) {
  at::autocast::set_autocast_dtype(device_, at::kBFloat16);
  at::autocast::set_autocast_enabled(device_, true);
  at::autocast::increment_nesting();
}

Autocast::~Autocast() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_, false);
}

void poison_cuda_allocator() {
  auto big = at::full({64 << 20}, std::numeric_limits<float>::quiet_NaN(),
                      at::TensorOptions().device(at::kCUDA));
  big.reset();
}

double max_rel_error(const at::Tensor& a, const at::Tensor& ref) {
  auto a64 = a.to(at::kDouble).cpu();
  auto r64 = ref.to(at::kDouble).cpu();
  double denom = r64.abs().max().item<double>();
  double num = (a64 - r64).abs().max().item<double>();
  return num / (denom > 0 ? denom : 1.0);
}

}  // namespace halo::test
