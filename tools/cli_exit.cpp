// Implementation of cli_exit.h.
#include "tools/cli_exit.h"

#include "common/error.h"
#include "halo_version.h"  // generated: HALO_VERSION, HALO_GIT_COMMIT (cmake/HaloVersion.cmake)

#include <c10/util/Exception.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <regex>
#include <sstream>
#include <vector>

namespace halo::tools {

std::string user_error_text(const std::string& what, bool verbose) {
  if (verbose) return what;
  // Trailing "  [dir/file.cpp:123]" groups, as halo::throw_error appends them.
  static const std::regex kLocations(R"((\s+\[[A-Za-z0-9_./-]+\.(cpp|h|cu|cuh):\d+\])+\s*$)");
  return std::regex_replace(what, kLocations, "");
}

std::string version_text() {
  std::ostringstream s;
  s << "halo-distill " << HALO_VERSION << " (commit " << HALO_GIT_COMMIT << "), LibTorch "
    << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH;
#if HALO_WITH_CUDA
  s << ", CUDA kernels built";
#else
  s << ", CUDA kernels not built";
#endif
  const auto gpus = torch::cuda::device_count();
  s << ", " << gpus << (gpus == 1 ? " CUDA device visible" : " CUDA devices visible");
  return s.str();
}

namespace {
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}
}  // namespace

std::optional<std::string> unknown_command_message(const CLI::App& app, int argc,
                                                   const char* const* argv) {
  std::string word;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') {
      word = argv[i];
      break;
    }
  }
  if (word.empty()) return std::nullopt;
  std::vector<std::pair<size_t, std::string>> names;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == word) return std::nullopt;
    if (sub->get_group().empty()) continue;  // hidden commands are not suggested
    names.emplace_back(edit_distance(word, sub->get_name()), sub->get_name());
  }
  std::sort(names.begin(), names.end());
  std::ostringstream s;
  s << "unknown command '" << word << "'";
  std::vector<std::string> close;
  for (const auto& [d, n] : names) {
    if (d <= std::max<size_t>(2, word.size() / 3) && close.size() < 3) close.push_back(n);
  }
  for (size_t i = 0; i < close.size(); ++i) {
    s << (i == 0 ? "; did you mean '" : (i + 1 == close.size() ? "' or '" : "', '")) << close[i];
  }
  if (!close.empty()) s << "'?";
  s << " HINT: halo-distill --help lists the commands";
  return s.str();
}

namespace {
int g_exit_code = kExitOk;  // set_exit_code's value for the command being run
}  // namespace

void set_exit_code(int code) {
  g_exit_code = code;
}

int run_command_line(CLI::App& app, int argc, char** argv, const std::string& program,
                     const bool& verbose) {
  g_exit_code = kExitOk;
  if (auto unknown = unknown_command_message(app, argc, argv)) {
    std::fprintf(stderr, "error: %s\n", unknown->c_str());
    return kExitUsage;
  }
  const char* env = std::getenv("HALO_VERBOSE");
  auto shown = [&](const std::string& what) {
    return user_error_text(what, verbose || (env && std::string(env) == "1"));
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(
        stderr, "error: %s\nHINT: %s %s--help explains the options\n", e.what(), program.c_str(),
        app.get_subcommands().empty() ? ""
                                      : (app.get_subcommands().front()->get_name() + " ").c_str());
    return kExitUsage;
  } catch (const HaloError& e) {
    std::fprintf(stderr, "error: %s\n", shown(e.what()).c_str());
    return kExitError;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error (torch): %s\n", e.what_without_backtrace());
    return kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", shown(e.what()).c_str());
    return kExitError;
  }
  return g_exit_code;
}

}  // namespace halo::tools
