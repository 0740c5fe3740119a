// halo-distill: entry point. Parses the command line, runs the chosen subcommand, and turns
// errors into one clear message and the exit codes of tools/cli_exit.h.
#include "tools/cli_exit.h"
#include "tools/commands.h"

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
  return halo::tools::run_command_line(app, argc, argv, "halo-distill", verbose);
}
