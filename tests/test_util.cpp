// Implementation of test_util.h.
#include "tests/test_util.h"

#include "halo/common/remove_tree.h"

#include <ATen/autocast_mode.h>
#include <sys/wait.h>

#include <array>

#include <cstdio>
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
std::string halo_binary() {
  if (const char* v = std::getenv("HALO_BINARY"); v && *v) return v;
#ifdef HALO_BINARY_PATH
  return HALO_BINARY_PATH;
#else
  return env_or_throw("HALO_BINARY");
#endif
}

CliResult run_cli(const std::string& args, bool merge_stderr) {
  const std::string cmd = halo_binary() + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
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

double max_rel_error(const at::Tensor& a, const at::Tensor& ref) {
  auto a64 = a.to(at::kDouble).cpu();
  auto r64 = ref.to(at::kDouble).cpu();
  double denom = r64.abs().max().item<double>();
  double num = (a64 - r64).abs().max().item<double>();
  return num / (denom > 0 ? denom : 1.0);
}

}  // namespace halo::test
