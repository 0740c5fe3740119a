// halo-distill: entry point. Parses the command line, runs the chosen subcommand, and turns
// errors into one clear message and the exit codes of tools/cli_exit.h.
#include "halo/common/error.h"
#include "tools/cli_exit.h"
#include "tools/commands.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  CLI::App app{
      "halo-distill: convert a pretrained Qwen3-style Transformer into a HypeNet hybrid "
      "linear-attention model with the HALO distillation pipeline.\n"
      "Run `halo-distill SUBCOMMAND --help` for the options of each subcommand.\n"
      "Exit codes: 0 success, 1 error in the input or the run, 2 usage error, 128+N stopped by "
      "signal N with the run resumable (130 SIGINT, 143 SIGTERM)."};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("--verbose", verbose,
               "Errors also show where in the source they were raised (as HALO_VERBOSE=1)");
  app.set_version_flag("--version", halo::tools::version_text(), "Print version information");
  halo::tools::add_inspect_command(app);
  halo::tools::add_init_teacher_command(app);
  halo::tools::add_forward_command(app);
  halo::tools::add_generate_command(app);
  halo::tools::add_eval_command(app);
  halo::tools::add_convert_command(app);
  halo::tools::add_bench_command(app);
  halo::tools::add_tokenize_command(app);
  halo::tools::add_train_tokenizer_command(app);
  halo::tools::add_run_commands(app);
  halo::tools::add_export_command(app);
  halo::tools::add_report_command(app);
  halo::tools::add_prepare_command(app);
  halo::tools::add_launch_command(app);
  halo::tools::add_dist_selftest_command(app);
  if (auto unknown = halo::tools::unknown_command_message(app, argc, argv)) {
    std::fprintf(stderr, "error: %s\n", unknown->c_str());
    return halo::tools::kExitUsage;
  }
  const char* env = std::getenv("HALO_VERBOSE");
  auto shown = [&](const std::string& what) {
    return halo::tools::user_error_text(what, verbose || (env && std::string(env) == "1"));
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "error: %s\nHINT: halo-distill %s--help explains the options\n",
                 e.what(), app.get_subcommands().empty()
                               ? ""
                               : (app.get_subcommands().front()->get_name() + " ").c_str());
    return halo::tools::kExitUsage;
  } catch (const halo::tools::ExitRequest& e) {
    return e.code;
  } catch (const halo::HaloError& e) {
    std::fprintf(stderr, "error: %s\n", shown(e.what()).c_str());
    return halo::tools::kExitError;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error (torch): %s\n", e.what_without_backtrace());
    return halo::tools::kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", shown(e.what()).c_str());
    return halo::tools::kExitError;
  }
  return halo::tools::kExitOk;
}
