// How the halo-distill command line ends: its exit codes, the text of its errors, `--version`
// and the answer to a misspelled subcommand.
//
// Exit codes (README "Exit codes"; tests/test_cli.cpp holds the CLI to them):
//   0          success (also --help and --version)
//   1          an error in the input or the run: the message names the file, key or value
//   2          a usage error: unknown subcommand or option, missing or malformed argument
//   128 + N    stopped by signal N after saving what is needed to resume (130 SIGINT,
//              143 SIGTERM): run the same command again to continue
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace halo::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// How a subcommand that ends with a code of its own (a run stopped by a signal: 128 + N; `launch`:
// its workers' result) returns it to main: its callback records the code here and returns;
// run_command_line returns it once the callback is done. No exception unwinds the command, so
// everything it built is destroyed as on success: a DistContext leaves the group in order (rank 0
// keeps the store up until every rank has left), which it skips when destroyed while an
// exception is in flight (std::uncaught_exceptions() > 0, the error path).
void set_exit_code(int code);

// An error message as users see it: without the trailing source locations ("  [data/x.cpp:36]")
// unless `verbose` (--verbose or HALO_VERBOSE=1), which keeps them for bug reports.
std::string user_error_text(const std::string& what, bool verbose);

// "halo-distill 0.1.0 (commit 1a2b3c4d5e), LibTorch 2.11.0, CUDA kernels built|not built, ..."
std::string version_text();

// When the first argument that is not an option names no subcommand of `app`: "unknown command
// 'frobnicate'" plus the closest names (edit distance) and the hint to run --help.
std::optional<std::string> unknown_command_message(const CLI::App& app, int argc,
                                                   const char* const* argv);

// The rest of a main() once `app` holds its subcommands: parses argv, runs the chosen
// subcommand and turns the outcome into the exit codes above (an error printed as "error: ...",
// without source locations unless `verbose` or HALO_VERBOSE=1; a usage error with the hint to
// run `PROGRAM [SUBCOMMAND] --help`; otherwise the code the subcommand gave set_exit_code, 0 if
// none). `verbose` is read after parsing (bind it to a flag).
// Shared by halo-distill and the tests' halo-dist-selftest.
int run_command_line(CLI::App& app, int argc, char** argv, const std::string& program,
                     const bool& verbose);

}  // namespace halo::tools
